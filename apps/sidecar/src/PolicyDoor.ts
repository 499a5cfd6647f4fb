/**
 * The sidecar's door: who may open a proxy stream to this pod. A caller must be a verified member
 * sidecar (its certificate chain, checked by the node's membership protocol, names its workload),
 * and the NetworkPolicies of this pod's namespace must admit that workload on the target's port;
 * without a policy selecting this pod, only callers of the same namespace are admitted.
 *
 * Decisions are cached per verified chain (`Member`, replaced on renewal) and target, and the
 * whole cache is dropped when the policies or this pod's identity change: a stream pays a few map
 * lookups, not a policy evaluation.
 */
import { NetworkPolicy } from "@beemesh/contract"
import type { Member, WorkloadClaims } from "@beemesh/p2p"
import type { Door, DoorDenial, Protocol } from "@beemesh/proxy"

/** Every reason the door gives (the `reason` label of `beemesh_sidecar_proxy_denied_total`). */
export const DENIAL_REASONS = [
  "not-a-member",
  "not-a-sidecar",
  "no-identity",
  "namespace",
  "policy",
] as const
export type DenialReason = (typeof DENIAL_REASONS)[number]

export interface PolicyDoorOptions {
  /** The verified chain of a connected peer, if it proved one (P2pNode.member). */
  readonly member: (peer: string) => Member | undefined
  /** Waits for a peer's chain, bounded by the membership timeout (P2pNode.awaitMember). */
  readonly awaitMember: (peer: string) => Promise<Member | undefined>
  /** This pod as its own certificate names it; undefined before its first lease. */
  readonly self: () => WorkloadClaims | undefined
  /** The app port of each exposed service (what policy ports match). */
  readonly services: Readonly<Record<string, number>>
  /** The NetworkPolicies this sidecar enforces (its namespace's, from its agent). */
  readonly policies: () => ReadonlyArray<NetworkPolicy.Policy>
}

const deny = (reason: DenialReason, message: string): DoorDenial => ({ reason, message })

export const makePolicyDoor = (options: PolicyDoorOptions): Door => {
  let cache = new WeakMap<Member, Map<string, DoorDenial | null>>()
  let cachedSelf: WorkloadClaims | undefined
  let cachedPolicies: ReadonlyArray<NetworkPolicy.Policy> | undefined

  const portOf = (target: Protocol.ProxyTarget): number =>
    target._tag === "Port" ? target.port : (options.services[target.name] ?? 0)

  const evaluate = (
    peer: string,
    member: Member | undefined,
    target: Protocol.ProxyTarget,
    self: WorkloadClaims | undefined,
    policies: ReadonlyArray<NetworkPolicy.Policy>,
  ): DoorDenial | undefined => {
    if (member === undefined)
      return deny("not-a-member", `peer ${peer} has not proved membership of this mesh`)
    if (member.role !== "sidecar" || member.workload === undefined)
      return deny(
        "not-a-sidecar",
        `peer ${peer} is a mesh ${member.role}, not a workload's sidecar`,
      )
    if (self === undefined)
      return deny("no-identity", "this sidecar has no certificate yet, so it cannot apply policies")
    const decision = NetworkPolicy.decide(
      policies,
      { namespace: self.namespace, labels: self.labels, port: portOf(target) },
      { namespace: member.workload.namespace, labels: member.workload.labels },
    )
    return decision.allowed ? undefined : deny(decision.reason, decision.message)
  }

  const decideCached = (peer: string, member: Member | undefined, target: Protocol.ProxyTarget) => {
    const self = options.self()
    const policies = options.policies()
    if (self !== cachedSelf || policies !== cachedPolicies) {
      cache = new WeakMap()
      cachedSelf = self
      cachedPolicies = policies
    }
    if (member === undefined) return evaluate(peer, member, target, self, policies)
    let byTarget = cache.get(member)
    if (byTarget === undefined) {
      byTarget = new Map()
      cache.set(member, byTarget)
    }
    const key = target._tag === "Port" ? `#${target.port}` : target.name
    const known = byTarget.get(key)
    if (known !== undefined) return known ?? undefined
    const denial = evaluate(peer, member, target, self, policies)
    byTarget.set(key, denial ?? null)
    return denial
  }

  return {
    check: (peer, target) => {
      const member = options.member(peer)
      if (member !== undefined) return decideCached(peer, member, target)
      // A stream can arrive before its connection's chain was verified: wait for it (bounded).
      return options.awaitMember(peer).then((late) => decideCached(peer, late, target))
    },
  }
}
