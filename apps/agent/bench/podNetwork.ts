/**
 * The pod network of a bench run, the same on both sides: the agent's default slirp4netns
 * options, or those with the Podman port handler `--port-handler` names, handed to the agent as
 * `--slirp` and to plain Podman as `--network`. So a run can compare the port forwarders with
 * everything else equal (the baseline must use the agent's options, whatever they are).
 */
import {
  renderPodmanNetworkFlag,
  renderPodmanNetworkOptions,
  type SlirpOptions,
} from "@beemesh/netns"
import { defaultPodNetwork } from "../src/PodNetwork"

const PORT_HANDLERS: ReadonlyArray<NonNullable<SlirpOptions["portHandler"]>> = [
  "rootlesskit",
  "slirp4netns",
]

/** The options of a run: the agent's default with `portHandler`, when given, in place of its own. */
export const podNetwork = (portHandler: string | undefined): SlirpOptions => {
  if (portHandler === undefined) return defaultPodNetwork
  const handler = PORT_HANDLERS.find((h) => h === portHandler)
  if (handler === undefined)
    throw new Error(
      `--port-handler ${portHandler}: Podman knows ${PORT_HANDLERS.join(" and ")} (rootlesskit: a rootlessport process per pod; slirp4netns: slirp4netns forwards the port itself)`,
    )
  return { ...defaultPodNetwork, portHandler: handler }
}

/** The agent's arguments that give its pods `network`. */
export const agentNetworkArgs = (network: SlirpOptions): ReadonlyArray<string> => [
  "--slirp",
  renderPodmanNetworkOptions(network).join(","),
]

/** Podman's `--network` value for the plain baseline's containers and pods. */
export const plainNetworkFlag = (network: SlirpOptions): string => renderPodmanNetworkFlag(network)
