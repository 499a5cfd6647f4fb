import { type Member, type Revoked, verifyChain } from "@beemesh/p2p"
import { Result } from "effect"
import { RecordRejected, type RejectionReason } from "./Errors.js"

/**
 * Provenance of DHT records: with a membership, every record a node signs carries its agent
 * certificate (issued by the mesh authority for the signing peer), and every record it accepts
 * must carry one that verifies for the record's signer, now, against the current revocation list.
 * The signature on the record proves which key wrote it; the certificate says that key is a
 * member agent. Sidecars never sign records (their agent publishes for them), so a record's chain
 * is the one agent certificate.
 */

/** What a verifier needs: whom certificates must chain to, and what is revoked now. */
export interface MembershipPolicy {
  /** The mesh authority's peer id. */
  readonly authority: string
  /** The current revocation list (read on every check, so a new list applies at once). */
  readonly revoked?: () => Revoked
}

/** A member node's membership: the policy, plus this node's own agent certificate. */
export interface Membership extends MembershipPolicy {
  /** This agent's certificate (`bmc1.…`), read each time a record is signed (it may be renewed). */
  readonly certificate: () => string
}

const NO_REVOCATIONS: Revoked = { serials: new Set(), subjects: new Set() }

/** Certificate refusals grouped into what an operator acts on. */
const reasonOf = (certificate: string): RejectionReason => {
  switch (certificate) {
    case "wrong-issuer":
      return "foreign-authority"
    case "revoked":
      return "revoked"
    case "expired":
    case "not-yet-valid":
      return "membership-expired"
    default:
      return "not-a-member"
  }
}

/**
 * Whether `signer` is a member agent according to the certificate its record carries. Never
 * throws; a refusal names the signer and the certificate's problem.
 */
export const admit = async (
  certificate: string | undefined,
  signer: string,
  policy: MembershipPolicy,
  now: number,
): Promise<Result.Result<Member, RecordRejected>> => {
  if (certificate === undefined) {
    return Result.fail(
      new RecordRejected({
        reason: "uncertified",
        detail: `record of ${signer} carries no membership certificate (this mesh requires one from authority ${policy.authority})`,
      }),
    )
  }
  const verified = await verifyChain([certificate], {
    authority: policy.authority,
    peer: signer,
    now,
    revoked: policy.revoked?.() ?? NO_REVOCATIONS,
  })
  if (Result.isSuccess(verified)) return Result.succeed(verified.success)
  return Result.fail(
    new RecordRejected({
      reason: reasonOf(verified.failure.reason),
      detail: `signer ${signer}: ${verified.failure.message}`,
    }),
  )
}

/**
 * Re-checks an admitted member without verifying signatures again: its certificate still valid
 * and neither it nor its agent revoked since. Cheap enough for every cached answer.
 */
export const stillMember = (member: Member, policy: MembershipPolicy, now: number): boolean => {
  if (member.expiresAt <= now) return false
  const revoked = policy.revoked?.()
  if (revoked === undefined) return true
  return !(
    revoked.subjects.has(member.agent) ||
    revoked.subjects.has(member.peer) ||
    member.serials.some((serial) => revoked.serials.has(serial))
  )
}
