/**
 * The pods' network when the operator's `--slirp` leaves an option out: the seed's slirp4netns
 * options (`@beemesh/netns` defaults) and slirp4netns as Podman's port handler.
 *
 * Podman's own default port handler, rootlesskit, forwards a published port with a `rootlessport`
 * process and its re-executed child (two Go processes per pod, about 2.2 MiB of PSS); with
 * `port_handler=slirp4netns` the pod's slirp4netns, which runs anyway, forwards it itself. A
 * connection then reaches the sidecar from its real source address (a peer on another host) or
 * from the slirp gateway (a connection from this host's loopback), where rootlessport made every
 * one come from the pod's own address; nothing in the sidecar looks at it (peers are told apart
 * by their libp2p identity). Podman 4.3 cannot forward an IPv6 host address this way (slirp4netns
 * refuses it), which the agent never publishes on (`--advertise-host` is IPv4).
 */
import { defaultSlirpOptions, type SlirpOptions } from "@beemesh/netns"

/** The port handler of pods whose options name none. */
export const DEFAULT_PORT_HANDLER = "slirp4netns" as const

/** Every pod's slirp4netns options when none are configured. */
export const defaultPodNetwork: SlirpOptions = {
  ...defaultSlirpOptions,
  portHandler: DEFAULT_PORT_HANDLER,
}

/** The configured options with the agent's port handler when they name none. */
export const podNetworkOf = (configured: SlirpOptions): SlirpOptions =>
  configured.portHandler === undefined
    ? { ...configured, portHandler: DEFAULT_PORT_HANDLER }
    : configured
