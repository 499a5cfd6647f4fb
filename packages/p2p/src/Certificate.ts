/**
 * Membership certificates: who belongs to a mesh, and which workload a sidecar speaks for.
 *
 * - The mesh authority is an Ed25519 key the operator keeps (`beemesh-agent mesh init`); a mesh
 *   is configured with the authority's peer id, from which its public key follows (an Ed25519
 *   peer id embeds the key), so verifiers need no key file.
 * - An agent certificate (`role: "agent"`) is signed by the authority for the agent's peer id.
 * - A sidecar certificate (`role: "sidecar"`) is signed by an agent for one sidecar's peer id and
 *   names the workload it runs: namespace, workload, pod, the replica's generation and the pod's
 *   labels. It is short-lived (at most {@link MAX_SIDECAR_LIFETIME_MS}); the agent hands out a
 *   new one with every renewal of the sidecar's registration.
 * - A chain is what a peer presents: `[agent]` for an agent, `[agent, sidecar]` for a sidecar.
 *   {@link verifyChain} checks signatures, issuers, lifetimes and revocation, and that the last
 *   certificate is for the peer the connection authenticated (Noise proves the peer id; the
 *   certificate says what that peer may be).
 * - A revocation list is signed by the authority and names serials and subjects no longer
 *   trusted; how it travels is the caller's business.
 *
 * Wire form: `bmc1.<payload>.<signature>`, both base64url, the payload UTF-8 JSON; the signature
 * covers `domain || 0x00 || payload`, so a certificate cannot pass as a revocation list or as
 * anything else a key signs. Verification never throws: bad input is a `CertificateRejected`.
 */
import type { PrivateKey, PublicKey } from "@libp2p/interface"
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id"
import { Data, Effect, Result, Schema } from "effect"
import { domainSignedBytes } from "./DomainSignature.js"

/** Signature domain of certificates. */
export const CERTIFICATE_DOMAIN = "beemesh/certificate/v1"
/** Signature domain of revocation lists. */
export const REVOCATIONS_DOMAIN = "beemesh/revocations/v1"
/** Largest certificate accepted (labels included). */
export const MAX_CERTIFICATE_BYTES = 4096
/** Largest revocation list accepted. */
export const MAX_REVOCATIONS_BYTES = 256 * 1024
/** A sidecar certificate lives at most this long: a stolen one is useless soon after. */
export const MAX_SIDECAR_LIFETIME_MS = 60 * 60 * 1000
/** How far a validity window may start in the future (clock skew between hosts). */
export const MAX_CLOCK_SKEW_MS = 30_000

const PREFIX = "bmc1"

export type CertificateRole = "agent" | "sidecar"

/** Why a certificate, chain or revocation list is refused. */
export type CertificateRejection =
  | "malformed"
  | "bad-signature"
  | "wrong-issuer"
  | "wrong-role"
  | "wrong-subject"
  | "not-yet-valid"
  | "expired"
  | "too-long-lived"
  | "revoked"

export class CertificateRejected extends Data.TaggedError("CertificateRejected")<{
  readonly reason: CertificateRejection
  readonly detail: string
}> {
  override get message() {
    return `certificate refused (${this.reason}): ${this.detail}`
  }
}

const PeerIdText = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(128))
const Millis = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const ShortText = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(253))

/** What a sidecar certificate says about the workload its sidecar speaks for. */
export const WorkloadClaims = Schema.Struct({
  namespace: ShortText,
  workload: ShortText,
  pod: ShortText,
  /** The replica's generation: a recreated replica has a new one, and old certificates name the old. */
  generation: ShortText,
  /** The pod's labels (NetworkPolicy selectors match them). */
  labels: Schema.Record(Schema.String, Schema.String),
})
export type WorkloadClaims = typeof WorkloadClaims.Type

export const CertificateClaims = Schema.Struct({
  v: Schema.Literal(1),
  role: Schema.Literals(["agent", "sidecar"]),
  /** The certified peer. */
  subject: PeerIdText,
  /** The signer: the mesh authority for an agent, the agent for a sidecar. */
  issuer: PeerIdText,
  /** Random, unique per certificate: revocation names it. */
  serial: Schema.String.check(Schema.isMinLength(8), Schema.isMaxLength(64)),
  notBefore: Millis,
  notAfter: Millis,
  /** Sidecar certificates only. */
  workload: Schema.optionalKey(WorkloadClaims),
})
export type CertificateClaims = typeof CertificateClaims.Type

export const RevocationClaims = Schema.Struct({
  v: Schema.Literal(1),
  issuer: PeerIdText,
  /** Newer lists replace older ones. */
  issuedAt: Millis,
  serials: Schema.Array(Schema.String.check(Schema.isMaxLength(64))),
  subjects: Schema.Array(PeerIdText),
})
export type RevocationClaims = typeof RevocationClaims.Type

/** A verified chain: who the peer is. */
export interface Member {
  readonly role: CertificateRole
  readonly peer: string
  /** The agent the peer is (role agent) or belongs to (role sidecar). */
  readonly agent: string
  /** The earliest `notAfter` in the chain: re-verify after it. */
  readonly expiresAt: number
  readonly serials: ReadonlyArray<string>
  readonly workload?: WorkloadClaims
}

export interface VerifyChainOptions {
  /** The mesh authority's peer id. */
  readonly authority: string
  /** The peer id the connection authenticated: the chain's last certificate must be for it. */
  readonly peer: string
  readonly now: number
  /** Serials and subjects the authority revoked (see {@link verifyRevocations}). */
  readonly revoked?: Revoked
}

/** A revocation list's content as sets, for lookups. */
export interface Revoked {
  readonly serials: ReadonlySet<string>
  readonly subjects: ReadonlySet<string>
}

const utf8 = new TextEncoder()
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url")
const unb64url = (text: string): Uint8Array | undefined =>
  /^[A-Za-z0-9_-]*$/.test(text) ? new Uint8Array(Buffer.from(text, "base64url")) : undefined

const reject = (reason: CertificateRejection, detail: string) =>
  Result.fail(new CertificateRejected({ reason, detail }))

const publicKeyOf = (peerId: string): PublicKey | undefined => {
  try {
    return peerIdFromString(peerId).publicKey
  } catch {
    return undefined
  }
}

const seal = async (key: PrivateKey, domain: string, claims: unknown): Promise<string> => {
  const payload = utf8.encode(JSON.stringify(claims))
  const signature = await key.sign(domainSignedBytes(domain, payload))
  return `${PREFIX}.${b64url(payload)}.${b64url(signature)}`
}

/** Splits, decodes and checks the signature against `issuer` as the payload names it. */
const open = async <A>(
  text: string,
  domain: string,
  maxBytes: number,
  decode: (input: unknown) => Result.Result<A, unknown>,
  issuerOf: (claims: A) => string,
): Promise<Result.Result<A, CertificateRejected>> => {
  if (typeof text !== "string" || text.length > maxBytes) {
    return reject("malformed", `not a string of at most ${maxBytes} characters`)
  }
  const parts = text.split(".")
  const payload = parts.length === 3 && parts[0] === PREFIX ? unb64url(parts[1]!) : undefined
  const signature = payload === undefined ? undefined : unb64url(parts[2]!)
  if (payload === undefined || signature === undefined) {
    return reject("malformed", `expected ${PREFIX}.<payload>.<signature> in base64url`)
  }
  const json = (() => {
    try {
      return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)) as unknown
    } catch {
      return undefined
    }
  })()
  const decoded = decode(json)
  if (Result.isFailure(decoded)) return reject("malformed", String(decoded.failure))
  const issuer = issuerOf(decoded.success)
  const key = publicKeyOf(issuer)
  if (key === undefined) {
    return reject("malformed", `issuer ${issuer} is not a peer id that embeds its public key`)
  }
  const valid = await Promise.resolve(
    key.verify(domainSignedBytes(domain, payload), signature),
  ).catch(() => false)
  return valid
    ? Result.succeed(decoded.success)
    : reject("bad-signature", `not signed by its issuer ${issuer}`)
}

const decodeClaims = Schema.decodeUnknownResult(CertificateClaims)
const decodeRevocations = Schema.decodeUnknownResult(RevocationClaims)

/** Input of {@link issueCertificate}: the claims but the version and the issuer (the key's). */
export type CertificateRequest = Omit<CertificateClaims, "v" | "issuer">

/**
 * Signs a certificate with `issuerKey` (the authority's for an agent, the agent's for a sidecar).
 * Refuses what every verifier would refuse, so a bad certificate is never handed out.
 */
export const issueCertificate = Effect.fn("Certificate.issue")(function* (
  issuerKey: PrivateKey,
  request: CertificateRequest,
) {
  const claims: CertificateClaims = {
    v: 1,
    ...request,
    issuer: peerIdOfKey(issuerKey),
  }
  const checked = decodeClaims(claims)
  if (Result.isFailure(checked)) {
    return yield* new CertificateRejected({ reason: "malformed", detail: String(checked.failure) })
  }
  const problem = shapeProblem(claims)
  if (problem !== undefined) return yield* problem
  const text = yield* Effect.promise(() => seal(issuerKey, CERTIFICATE_DOMAIN, claims))
  if (text.length > MAX_CERTIFICATE_BYTES) {
    return yield* new CertificateRejected({
      reason: "malformed",
      detail: `${text.length} bytes, more than ${MAX_CERTIFICATE_BYTES}: fewer or shorter labels`,
    })
  }
  return text
})

/** The peer id (text) of a key: what a certificate names as its subject or issuer. */
export const peerIdOfKey = (key: PrivateKey): string => peerIdFromPrivateKey(key).toString()

/** Role-specific rules that hold for a certificate on its own. */
const shapeProblem = (claims: CertificateClaims): CertificateRejected | undefined => {
  if (claims.notAfter <= claims.notBefore) {
    return new CertificateRejected({
      reason: "malformed",
      detail: "notAfter must be after notBefore",
    })
  }
  if (claims.role === "sidecar") {
    if (claims.workload === undefined) {
      return new CertificateRejected({
        reason: "malformed",
        detail: "a sidecar certificate names its workload",
      })
    }
    if (claims.notAfter - claims.notBefore > MAX_SIDECAR_LIFETIME_MS) {
      return new CertificateRejected({
        reason: "too-long-lived",
        detail: `a sidecar certificate lives at most ${MAX_SIDECAR_LIFETIME_MS} ms`,
      })
    }
  } else if (claims.workload !== undefined) {
    return new CertificateRejected({
      reason: "malformed",
      detail: "an agent certificate names no workload",
    })
  }
  return undefined
}

/** Decodes a certificate and checks its signature by the issuer it names (nothing else). */
export const openCertificate = (
  text: string,
): Promise<Result.Result<CertificateClaims, CertificateRejected>> =>
  open(text, CERTIFICATE_DOMAIN, MAX_CERTIFICATE_BYTES, decodeClaims, (claims) => claims.issuer)

const validityProblem = (
  claims: CertificateClaims,
  now: number,
  revoked: Revoked | undefined,
): CertificateRejected | undefined => {
  const shape = shapeProblem(claims)
  if (shape !== undefined) return shape
  if (claims.notBefore > now + MAX_CLOCK_SKEW_MS) {
    return new CertificateRejected({
      reason: "not-yet-valid",
      detail: `${claims.role} certificate ${claims.serial} is valid from ${new Date(claims.notBefore).toISOString()}`,
    })
  }
  if (claims.notAfter <= now) {
    return new CertificateRejected({
      reason: "expired",
      detail: `${claims.role} certificate ${claims.serial} of ${claims.subject} expired at ${new Date(claims.notAfter).toISOString()}`,
    })
  }
  if (revoked?.serials.has(claims.serial) || revoked?.subjects.has(claims.subject)) {
    return new CertificateRejected({
      reason: "revoked",
      detail: `${claims.role} certificate ${claims.serial} of ${claims.subject} is revoked`,
    })
  }
  return undefined
}

/**
 * Verifies a presented chain: `[agent]` or `[agent, sidecar]`, the agent's signed by the
 * authority, the sidecar's by that agent, each valid now and not revoked, the last one for `peer`.
 */
export const verifyChain = async (
  chain: ReadonlyArray<string>,
  options: VerifyChainOptions,
): Promise<Result.Result<Member, CertificateRejected>> => {
  if (!Array.isArray(chain) || chain.length < 1 || chain.length > 2) {
    return reject("malformed", "a chain is [agent certificate] or [agent, sidecar certificate]")
  }
  const opened: Array<CertificateClaims> = []
  for (const text of chain) {
    const result = await openCertificate(text)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    opened.push(result.success)
  }
  const [agent, sidecar] = opened as [CertificateClaims, CertificateClaims | undefined]
  if (agent.role !== "agent")
    return reject("wrong-role", "the chain must start with an agent certificate")
  if (agent.issuer !== options.authority) {
    return reject(
      "wrong-issuer",
      `agent certificate signed by ${agent.issuer}, not the mesh authority ${options.authority}`,
    )
  }
  if (sidecar !== undefined) {
    if (sidecar.role !== "sidecar")
      return reject("wrong-role", "the second certificate must be a sidecar's")
    if (sidecar.issuer !== agent.subject) {
      return reject(
        "wrong-issuer",
        `sidecar certificate signed by ${sidecar.issuer}, not by its agent ${agent.subject}`,
      )
    }
  }
  for (const claims of opened) {
    const problem = validityProblem(claims, options.now, options.revoked)
    if (problem !== undefined) return Result.fail(problem)
  }
  const last = sidecar ?? agent
  if (last.subject !== options.peer) {
    return reject(
      "wrong-subject",
      `certificate is for ${last.subject}, but the peer is ${options.peer}`,
    )
  }
  return Result.succeed({
    role: last.role,
    peer: last.subject,
    agent: agent.subject,
    expiresAt: Math.min(...opened.map((claims) => claims.notAfter)),
    serials: opened.map((claims) => claims.serial),
    ...(sidecar?.workload === undefined ? {} : { workload: sidecar.workload }),
  })
}

/** Signs a revocation list with the authority's key. */
export const issueRevocations = Effect.fn("Certificate.issueRevocations")(function* (
  authorityKey: PrivateKey,
  list: Omit<RevocationClaims, "v" | "issuer">,
) {
  const claims: RevocationClaims = { v: 1, ...list, issuer: peerIdOfKey(authorityKey) }
  const text = yield* Effect.promise(() => seal(authorityKey, REVOCATIONS_DOMAIN, claims))
  if (text.length > MAX_REVOCATIONS_BYTES) {
    return yield* new CertificateRejected({
      reason: "malformed",
      detail: `revocation list is ${text.length} bytes, more than ${MAX_REVOCATIONS_BYTES}`,
    })
  }
  return text
})

/** Opens a revocation list: signed by `authority`, or refused. */
export const verifyRevocations = async (
  text: string,
  authority: string,
): Promise<Result.Result<RevocationClaims, CertificateRejected>> => {
  const opened = await open(
    text,
    REVOCATIONS_DOMAIN,
    MAX_REVOCATIONS_BYTES,
    decodeRevocations,
    (claims) => claims.issuer,
  )
  if (Result.isSuccess(opened) && opened.success.issuer !== authority) {
    return reject(
      "wrong-issuer",
      `revocation list signed by ${opened.success.issuer}, not the mesh authority ${authority}`,
    )
  }
  return opened
}

/** A revocation list as sets. */
export const revokedSet = (claims: RevocationClaims | undefined): Revoked => ({
  serials: new Set(claims?.serials ?? []),
  subjects: new Set(claims?.subjects ?? []),
})
