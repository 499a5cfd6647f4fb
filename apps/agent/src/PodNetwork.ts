/**
 * The pods' network when the operator's `--slirp` leaves an option out: the seed's slirp4netns
 * options (`@beemesh/netns` defaults) and Podman's own port handler, rootlesskit.
 *
 * rootlesskit forwards a published port with a `rootlessport` process and its re-executed child
 * (two Go processes per pod, about 2.2 MiB of PSS). `--slirp port_handler=slirp4netns` lets the
 * pod's slirp4netns forward it instead and saves them, but slirp4netns listens with a backlog of
 * one: of a burst of new connections to one published port, some wait for a SYN retransmission
 * (1 s, longer than the proxy's 750 ms dial timeout), where rootlessport takes them all (see the
 * agent README, "Networking facts").
 */
import { defaultSlirpOptions, type SlirpOptions } from "@beemesh/netns"

/** Every pod's slirp4netns options when none are configured. */
export const defaultPodNetwork: SlirpOptions = defaultSlirpOptions
