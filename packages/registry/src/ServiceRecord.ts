import { MAX_CERTIFICATE_BYTES, type Member } from "@beemesh/p2p"
import type { PrivateKey } from "@libp2p/interface"
import { Effect, Result, Schema } from "effect"
import { RecordRejected, type RecordTooLarge } from "./Errors.js"
import { keySegments, labelProblem, SERVICE_PREFIX, subdomainProblem } from "./Names.js"
import { admit, type MembershipPolicy } from "./Provenance.js"
import * as SignedEnvelope from "./SignedEnvelope.js"

/**
 * The signed record a provider publishes under `/beemesh-svc/<namespace>/<service>/<provider>`.
 * One record per (service, provider) lists every local endpoint (pod) of that service, so two
 * replicas on one host never overwrite each other. A record with no endpoints is a tombstone:
 * the DHT cannot delete, so withdrawal publishes a newer, empty record.
 */

/** Signature domain of service records (see SignedEnvelope). */
export const DOMAIN = "beemesh/service-record/v1"
/**
 * Most endpoints one record lists: one provider (an agent) lists every local pod of the service in
 * it, and an agent runs up to 250 replicas of a workload.
 */
export const MAX_ENDPOINTS = 256
/**
 * Largest signed service record we create or accept. A DHT value should stay small, but it must
 * hold MAX_ENDPOINTS endpoints of realistic size (two multiaddrs with peer ids each, about 420
 * bytes once base64 in the envelope) and the agent certificate (about 600 bytes): 8 KiB held about
 * 25, and a 110-replica Deployment never got past registering its first pods.
 */
export const MAX_BYTES = 128 * 1024
/** How far in the future a record's issue time may lie (clock skew between hosts). */
export const MAX_CLOCK_SKEW_MS = 30_000
/** Bounds on the TTL a publisher may claim: short enough that dead providers age out. */
export const MIN_TTL_MS = 1_000
export const MAX_TTL_MS = 24 * 60 * 60 * 1000

const Label = Schema.String.check(
  Schema.makeFilter((s: string) => labelProblem(s) === undefined || "a DNS-1123 label"),
)
const Subdomain = Schema.String.check(
  Schema.makeFilter((s: string) => subdomainProblem(s) === undefined || "a DNS-1123 subdomain"),
)
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const Port = Schema.Struct({
  /** Port name, as in a Kubernetes containerPort (optional). */
  name: Schema.optionalKey(Label),
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
})
export type Port = typeof Port.Type

export const Endpoint = Schema.Struct({
  workload: Subdomain,
  pod: Subdomain,
  /** Where to open streams to this endpoint (typically the pod sidecar's libp2p addresses). */
  multiaddrs: Schema.Array(Schema.String.check(Schema.isMaxLength(512))).check(
    Schema.isMaxLength(16),
  ),
  ports: Schema.Array(Port).check(Schema.isMaxLength(32)),
})
export type Endpoint = typeof Endpoint.Type

export const ServiceRecord = Schema.Struct({
  kind: Schema.Literal("beemesh.service/v1"),
  namespace: Label,
  service: Label,
  /** Peer id of the publisher; must be the peer id of the signing key. */
  provider: Schema.String.check(Schema.isMaxLength(128)),
  /** Milliseconds since the epoch. */
  issuedAt: NonNegativeInt,
  ttlMs: Schema.Int.check(Schema.isBetween({ minimum: MIN_TTL_MS, maximum: MAX_TTL_MS })),
  /** Newest wins: strictly increasing per (service, provider). */
  sequence: NonNegativeInt,
  endpoints: Schema.Array(Endpoint).check(Schema.isMaxLength(MAX_ENDPOINTS)),
  /** The provider's agent certificate (`bmc1.…`); required by nodes with a membership. */
  certificate: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(MAX_CERTIFICATE_BYTES))),
})
export type ServiceRecord = typeof ServiceRecord.Type

/** A record with its envelope, as stored in the DHT. */
export interface SignedServiceRecord {
  readonly record: ServiceRecord
  readonly bytes: Uint8Array
  /** Who the provider is, when verified under a membership policy. */
  readonly member?: Member
}

export const isTombstone = (record: ServiceRecord) => record.endpoints.length === 0
export const expiresAt = (record: ServiceRecord) => record.issuedAt + record.ttlMs

const decodeRecord = Schema.decodeUnknownResult(ServiceRecord)
const encodeJson = (record: ServiceRecord) => new TextEncoder().encode(JSON.stringify(record))

/** Signs a record with the provider's key. The key must be the provider's (checked by verify). */
export const sign = (
  privateKey: PrivateKey,
  record: ServiceRecord,
): Effect.Effect<SignedServiceRecord, RecordTooLarge | RecordRejected> => {
  // Refuse locally what every verifier would refuse (port 0, a bad multiaddr list …).
  const checked = decodeRecord(record)
  if (Result.isFailure(checked)) {
    return Effect.fail(new RecordRejected({ reason: "malformed", detail: String(checked.failure) }))
  }
  return Effect.promise(() =>
    SignedEnvelope.seal(privateKey, DOMAIN, encodeJson(record), MAX_BYTES),
  ).pipe(
    Effect.flatMap(Effect.fromResult),
    Effect.map((bytes) => ({ record, bytes })),
  )
}

export interface VerifyOptions {
  /** Current time in ms since the epoch. */
  readonly now: number
  /**
   * The DHT key the record was stored under: its namespace, service and provider segments must
   * match the record, so a record cannot be replayed under another name or another peer's key.
   */
  readonly key?: Uint8Array
  /** When set, the record must carry a certificate that makes its provider a member agent. */
  readonly membership?: MembershipPolicy
}

const reject = (reason: RecordRejected["reason"], detail: string) =>
  Result.fail(new RecordRejected({ reason, detail }))

const keyMismatch = (key: Uint8Array, record: ServiceRecord): string | undefined => {
  const [prefix, namespace, service, provider, ...rest] = keySegments(key)
  if (prefix !== SERVICE_PREFIX || rest.length > 0) return "not a service record key"
  if (namespace !== record.namespace || service !== record.service) {
    return `key names ${namespace}/${service}, record names ${record.namespace}/${record.service}`
  }
  if (provider !== record.provider)
    return `key names provider ${provider}, record ${record.provider}`
  return undefined
}

/**
 * Full verification: envelope size and signature, schema, signer = provider, key binding,
 * freshness (not expired, not issued in the future beyond the allowed skew) and, under a
 * membership policy, the provider's certificate.
 */
export const verifyBytes = async (
  bytes: Uint8Array,
  options: VerifyOptions,
): Promise<Result.Result<SignedServiceRecord, RecordRejected>> => {
  const opened = await SignedEnvelope.open(bytes, DOMAIN, MAX_BYTES)
  if (Result.isFailure(opened)) return Result.fail(opened.failure)
  const json = (() => {
    try {
      return JSON.parse(new TextDecoder().decode(opened.success.payload)) as unknown
    } catch {
      return undefined
    }
  })()
  const decoded = decodeRecord(json)
  if (Result.isFailure(decoded)) return reject("malformed", String(decoded.failure))
  const record = decoded.success
  if (record.provider !== opened.success.signer) {
    return reject(
      "wrong-key",
      `signed by ${opened.success.signer}, but claims provider ${record.provider}`,
    )
  }
  if (options.key !== undefined) {
    const mismatch = keyMismatch(options.key, record)
    if (mismatch !== undefined) return reject("key-mismatch", mismatch)
  }
  if (record.issuedAt > options.now + MAX_CLOCK_SKEW_MS) {
    return reject(
      "future-dated",
      `issued ${record.issuedAt - options.now} ms in the future (allowed skew ${MAX_CLOCK_SKEW_MS} ms)`,
    )
  }
  if (expiresAt(record) <= options.now) {
    return reject("expired", `expired ${options.now - expiresAt(record)} ms ago`)
  }
  if (options.membership === undefined) return Result.succeed({ record, bytes })
  const member = await admit(record.certificate, record.provider, options.membership, options.now)
  return Result.isFailure(member)
    ? Result.fail(member.failure)
    : Result.succeed({ record, bytes, member: member.success })
}

/** Effect form of {@link verifyBytes}. */
export const verify = (bytes: Uint8Array, options: VerifyOptions) =>
  Effect.promise(() => verifyBytes(bytes, options)).pipe(Effect.flatMap(Effect.fromResult))

/** Newest wins: higher sequence, then later issue time. Undecodable values lose. */
export const newer = (a: ServiceRecord, b: ServiceRecord) =>
  a.sequence !== b.sequence ? a.sequence > b.sequence : a.issuedAt > b.issuedAt

/** Reads a record's payload without verifying it (selectors only rank already-validated values). */
export const peek = (bytes: Uint8Array): ServiceRecord | undefined => {
  try {
    const envelope = JSON.parse(new TextDecoder().decode(bytes)) as { payload?: unknown }
    if (typeof envelope.payload !== "string") return undefined
    const payload = JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")) as unknown
    const decoded = decodeRecord(payload)
    return Result.isSuccess(decoded) ? decoded.success : undefined
  } catch {
    return undefined
  }
}
