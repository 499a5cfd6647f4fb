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
