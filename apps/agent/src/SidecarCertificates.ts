/**
 * The chain an agent hands each of its sidecars with every registration lease: its own
 * certificate and one it signs for the sidecar's peer id, naming the pod's workload. A sidecar
 * certificate lives three renewal intervals (one missed renewal does not cut the pod off, a
 * stolen certificate is soon useless), at most an hour.
 */
import { randomUUID } from "node:crypto"
import {
  issueCertificate,
  MAX_CLOCK_SKEW_MS,
  MAX_SIDECAR_LIFETIME_MS,
  type WorkloadClaims,
} from "@beemesh/p2p"
import { Effect } from "effect"
import type { AgentMembership, PrivateKey } from "./MeshMembership"

/** How many renewal intervals a sidecar certificate outlives its issue by. */
export const SIDECAR_RENEWALS_COVERED = 3

/** The sidecar certificate's lifetime for a lease renewed every `renewAfterSeconds`. */
export const sidecarLifetimeMs = (renewAfterSeconds: number): number =>
  Math.min(SIDECAR_RENEWALS_COVERED * renewAfterSeconds * 1000, MAX_SIDECAR_LIFETIME_MS)

/** Signs `[agent certificate, sidecar certificate]` for the sidecar `peer` of `workload`. */
export const sidecarChain = Effect.fn("SidecarCertificates.chain")(function* (
  agentKey: PrivateKey,
  membership: AgentMembership,
  peer: string,
  workload: WorkloadClaims,
  renewAfterSeconds: number,
  now: number,
) {
  // Valid from a little earlier: a peer whose clock runs behind accepts it at once.
  const notBefore = now - MAX_CLOCK_SKEW_MS
  const sidecar = yield* issueCertificate(agentKey, {
    role: "sidecar",
    subject: peer,
    serial: randomUUID(),
    notBefore,
    notAfter: Math.min(
      now + sidecarLifetimeMs(renewAfterSeconds),
      notBefore + MAX_SIDECAR_LIFETIME_MS,
    ),
    workload,
  })
  return [membership.certificate, sidecar] as const
})

/**
 * The share of a sidecar certificate's lifetime after which a renewal brings a new one; before,
 * the renewal hands over the one the sidecar holds. Signing and the sidecar's re-presenting the
 * new chain to its peers cost every renewal; reused, a renewal changes nothing. After every
 * renewal the sidecar still holds at least half a lifetime (1.5 renewal intervals, 15 s with the
 * default lease): the next renewal, and its retries, fall inside it.
 */
export const SIDECAR_REISSUE_AFTER = 0.5

interface Issued {
  /** What the certificate was issued for: a change means a new certificate. */
  readonly content: string
  readonly issuedAt: number
  readonly reissueAt: number
  readonly expiresAt: number
  readonly chain: readonly [string, string]
}

/**
 * `sidecarChain` per pod, the chain a pod's sidecar was last given reused until it has used
 * {@link SIDECAR_REISSUE_AFTER} of its lifetime, or until what it names changes (the sidecar's peer
 * id, the pod's generation or labels, the agent's certificate, the renewal interval) or the
 * revocation list in force changes.
 */
export const makeSidecarChains = (agentKey: PrivateKey, membership: AgentMembership) => {
  const issued = new Map<string, Issued>()
  const chainFor = Effect.fn("SidecarCertificates.chainFor")(function* (
    peer: string,
    workload: WorkloadClaims,
    renewAfterSeconds: number,
    revocations: string | undefined,
    now: number,
  ) {
    const key = `${workload.namespace}/${workload.pod}`
    const content = JSON.stringify([
      peer,
      workload,
      renewAfterSeconds,
      revocations ?? "",
      membership.certificate,
    ])
    const held = issued.get(key)
    // A clock set back is no reason to trust an old certificate longer.
    if (
      held !== undefined &&
      held.content === content &&
      now >= held.issuedAt &&
      now < held.reissueAt
    )
      return held.chain
    const chain = yield* sidecarChain(agentKey, membership, peer, workload, renewAfterSeconds, now)
    const lifetime = sidecarLifetimeMs(renewAfterSeconds)
    // Pods that went away leave their entry until it would have expired.
    for (const [other, entry] of issued) if (entry.expiresAt <= now) issued.delete(other)
    issued.set(key, {
      content,
      issuedAt: now,
      reissueAt: now + lifetime * SIDECAR_REISSUE_AFTER,
      expiresAt: now + lifetime,
      chain,
    })
    return chain
  })
  return { chainFor, size: () => issued.size }
}
