/**
 * Membership on every connection: each side presents its certificate chain (see Certificate.ts)
 * on a `/beemesh/member/1.0.0` stream right after the connection opens, and the other side
 * verifies it against the peer id Noise authenticated. A peer that has not proved membership
 * within the bound is disconnected and refused for a while, so redialling buys it no new window;
 * expiry and revocation are re-checked while connected, and a renewed chain is presented again.
 *
 * What the gate cannot cover: protocols that run before the chain arrives (identify, and the
 * DHT, which opens its streams as soon as a connection exists) see an unproven peer for at most
 * the bound. Their content is protected otherwise (records are signed and checked for
 * provenance); handlers that serve anything of value ask `P2pNode.member(peer)` first.
 */
import { MAX_CERTIFICATE_BYTES, type Member, type Revoked } from "./Certificate.js"

/** The protocol on which a peer presents its chain. */
export const MEMBER_PROTOCOL = "/beemesh/member/1.0.0"
/** Largest presentation accepted: two certificates and the JSON around them. */
export const MAX_PRESENTATION_BYTES = 2 * MAX_CERTIFICATE_BYTES + 256
/** How long a new peer has to prove membership. */
export const DEFAULT_MEMBERSHIP_TIMEOUT_MS = 5_000
/** How long a peer that failed to prove membership is refused (inbound and outbound). */
export const DEFAULT_MEMBERSHIP_REFUSAL_MS = 30_000
/** How often expiry, revocation and this node's own chain are checked for changes. */
export const DEFAULT_MEMBERSHIP_RECHECK_MS = 1_000

export interface MembershipOptions {
  /**
   * The mesh authority's peer id: agent certificates must be signed by it. Several during a
   * rotation: a chain from any of them is accepted (drop the old one once every agent holds a
   * certificate from the new one).
   */
  readonly authority: string | ReadonlyArray<string>
  /**
   * This node's chain (`[agent]` or `[agent, sidecar]`), read whenever it is presented; when it
   * changes (renewal) it is presented again to every connected peer. Empty: nothing to present
   * yet (a sidecar before its first lease), and peers will drop this node after their bound.
   */
  readonly chain: () => ReadonlyArray<string>
  /** What the authority revoked now; a change disconnects the peers it names. */
  readonly revoked: () => Revoked
  /** How long a peer has to prove membership. Default 5 s. */
  readonly timeoutMs?: number
  /** How long a peer that failed is refused. Default 30 s. */
  readonly refusalMs?: number
  /** How often connected members are re-checked. Default 1 s. */
  readonly recheckMs?: number
  /** The clock (tests move it). Default `Date.now`. */
  readonly now?: () => number
}

/** Told when a peer is admitted or re-admitted (`member`) or dropped (`undefined`). */
export type MemberListener = (peer: string, member: Member | undefined) => void
