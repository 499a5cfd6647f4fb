/**
 * Which addresses a sidecar may register (pure). Only what the agent itself gave the pod: its
 * published port on the agent's advertise host, and, behind a NAT, circuit addresses through the
 * agent's relays ending in the sidecar's own peer id. Anything else would let a pod send callers
 * of its service elsewhere (another pod's port, another host), so it is refused by name rather
 * than dropped: a sidecar run by the agent never sends another address, and a registration cut
 * down in silence would hide the misconfiguration or the compromised sidecar behind it.
 */

import { SameHostSockets } from "@beemesh/contract"

/** What the agent knows of where its pods are reached. */
export interface AddressRules {
  /** The host address pods' ports are published on and advertised at (`--advertise-host`). */
  readonly advertiseHost: string
  /** The relays the agent's sidecars hold a slot at (behind a NAT); none when reachable. */
  readonly relays: ReadonlyArray<string>
  /**
   * Sidecars also listen on a same-host socket (the agent mounts its socket directory into them):
   * each may register its own, `<MOUNT>/<socketPrefix(namespace, pod)>.<peer id>`.
   */
  readonly sameHost?: boolean
}

/** The registering pod: its published port and the peer id its sidecar registers with. */
export interface RegisteringPod {
  readonly hostPort: number | undefined
  readonly peerId: string
  /** The pod as its token names it: its same-host socket's name follows from them. */
  readonly namespace?: string
  readonly pod?: string
}

/** The `/unix/…` address of the pod's same-host socket, as its sidecar registers it. */
export const sameHostAddress = (namespace: string, pod: string, peerId: string) =>
  SameHostSockets.socketAddress(SameHostSockets.MOUNT, namespace, pod, peerId)

/** The direct address of a published port, as the agent writes it into the sidecar's settings. */
export const publishedAddress = (host: string, port: number) =>
  `/${host.includes(":") ? "ip6" : "ip4"}/${host}/tcp/${port}`

/** The addresses `pod` may register, each also allowed ending in its own `/p2p/<peer id>`. */
export const podAddresses = (rules: AddressRules, pod: RegisteringPod): ReadonlyArray<string> => [
  ...(pod.hostPort === undefined ? [] : [publishedAddress(rules.advertiseHost, pod.hostPort)]),
  ...rules.relays.map((relay) => `${relay}/p2p-circuit`),
  ...(rules.sameHost === true && pod.namespace !== undefined && pod.pod !== undefined
    ? [sameHostAddress(pod.namespace, pod.pod, pod.peerId)]
    : []),
]

/** Why the first of `multiaddrs` that `pod` may not register is refused; undefined when none is. */
export const addressProblem = (
  multiaddrs: ReadonlyArray<string>,
  rules: AddressRules,
  pod: RegisteringPod,
): string | undefined => {
  const own = podAddresses(rules, pod)
  const allowed = new Set([...own, ...own.map((address) => `${address}/p2p/${pod.peerId}`)])
  const refused = multiaddrs.find((address) => !allowed.has(address))
  if (refused === undefined) return undefined
  return `address ${refused} is not this pod's: its sidecar may register only ${
    own.length === 0
      ? "no address yet (its pod has no published port)"
      : `${own.join(", ")} (each optionally ending in /p2p/${pod.peerId})`
  }, the addresses the agent gave it`
}
