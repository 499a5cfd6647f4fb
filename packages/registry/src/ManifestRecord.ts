import { MAX_CERTIFICATE_BYTES } from "@beemesh/p2p"
import type { PrivateKey } from "@libp2p/interface"
import { Effect, Result, Schema } from "effect"
import { RecordRejected, type RecordTooLarge } from "./Errors.js"
import { keySegments, labelProblem, MANIFEST_PREFIX } from "./Names.js"
import { admit, type MembershipPolicy } from "./Provenance.js"
import * as SignedEnvelope from "./SignedEnvelope.js"

/**
 * A workload manifest stored under `/beemesh-manifest/<namespace>/<name>`. Signed by its
 * publisher; when peers hold different versions, the newest (sequence, then issue time) wins.
 * Signatures authenticate; under a membership policy a manifest must also carry its publisher's
 * agent certificate, so only member agents (never sidecars, never outsiders) publish, and a
 * revoked agent's versions are refused.
 *
 * Sequences are times: a publisher takes the current time in ms (or one more than the newest it
 * saw), and a record whose sequence lies further ahead than the allowed clock skew is refused as
 * future-dated. Without this bound one record with sequence 2^53 would outrank every later
 * version for good; with it, a record placed at the edge outranks the operator's for at most
 * MAX_CLOCK_SKEW_MS.
 *
 * Manifests expire (issuedAt + ttlMs): the publishing node re-signs its version while it runs, so
 * a manifest outlives its publisher by at most its TTL, and a stale or abandoned one ages out.
 */

export const DOMAIN = "beemesh/manifest/v1"
/** Largest signed manifest accepted: workloads are YAML/JSON documents, not blobs. */
export const MAX_BYTES = 256 * 1024
export const MAX_CLOCK_SKEW_MS = 30_000
/** Bounds on a manifest's lifetime: long enough for a publisher's restart, short enough to age out. */
export const MIN_TTL_MS = 1_000
export const MAX_TTL_MS = 7 * 24 * 60 * 60 * 1000

const Label = Schema.String.check(
  Schema.makeFilter((s: string) => labelProblem(s) === undefined || "a DNS-1123 label"),
)
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const ManifestRecord = Schema.Struct({
  kind: Schema.Literal("beemesh.manifest/v1"),
  namespace: Label,
  name: Label,
  publisher: Schema.String.check(Schema.isMaxLength(128)),
  issuedAt: NonNegativeInt,
  sequence: NonNegativeInt,
  /** Lifetime from `issuedAt`: past it the record is refused everywhere. */
  ttlMs: Schema.Int.check(Schema.isBetween({ minimum: MIN_TTL_MS, maximum: MAX_TTL_MS })),
  /** The manifest document (YAML or JSON text), opaque to the registry. */
  content: Schema.String,
  /** The publisher's agent certificate (`bmc1.…`); required by nodes with a membership. */
  certificate: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(MAX_CERTIFICATE_BYTES))),
})
export type ManifestRecord = typeof ManifestRecord.Type

const decodeRecord = Schema.decodeUnknownResult(ManifestRecord)

export const expiresAt = (record: ManifestRecord) => record.issuedAt + record.ttlMs

export interface VerifyOptions {
  /** Current time in ms since the epoch. */
  readonly now: number
  /** The DHT key the record was stored under: its namespace and name must be the record's. */
  readonly key?: Uint8Array
  /** When set, the record must carry a certificate that makes its publisher a member agent. */
  readonly membership?: MembershipPolicy
}

export const sign = (
  privateKey: PrivateKey,
  record: ManifestRecord,
): Effect.Effect<Uint8Array, RecordTooLarge> =>
  Effect.promise(() =>
    SignedEnvelope.seal(
      privateKey,
      DOMAIN,
      new TextEncoder().encode(JSON.stringify(record)),
      MAX_BYTES,
    ),
  ).pipe(Effect.flatMap(Effect.fromResult))

const reject = (reason: RecordRejected["reason"], detail: string) =>
  Result.fail(new RecordRejected({ reason, detail }))

const parse = (payload: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(payload))
  } catch {
    return undefined
  }
}

export const verifyBytes = async (
  bytes: Uint8Array,
  options: VerifyOptions,
): Promise<Result.Result<ManifestRecord, RecordRejected>> => {
  const opened = await SignedEnvelope.open(bytes, DOMAIN, MAX_BYTES)
  if (Result.isFailure(opened)) return Result.fail(opened.failure)
  const decoded = decodeRecord(parse(opened.success.payload))
  if (Result.isFailure(decoded)) return reject("malformed", String(decoded.failure))
  const record = decoded.success
  if (record.publisher !== opened.success.signer) {
    return reject("wrong-key", `signed by ${opened.success.signer}, claims ${record.publisher}`)
  }
  if (options.key !== undefined) {
    const [prefix, namespace, name, ...rest] = keySegments(options.key)
    if (
      prefix !== MANIFEST_PREFIX ||
      rest.length > 0 ||
      namespace !== record.namespace ||
      name !== record.name
    ) {
      return reject(
        "key-mismatch",
        `record ${record.namespace}/${record.name} stored under another key`,
      )
    }
  }
  if (record.issuedAt > options.now + MAX_CLOCK_SKEW_MS) {
    return reject("future-dated", `issued ${record.issuedAt - options.now} ms in the future`)
  }
  if (record.sequence > options.now + MAX_CLOCK_SKEW_MS) {
    return reject(
      "future-dated",
      `sequence ${record.sequence} lies ${record.sequence - options.now} ms ahead (sequences are times in ms; allowed skew ${MAX_CLOCK_SKEW_MS} ms)`,
    )
  }
  if (expiresAt(record) <= options.now) {
    return reject("expired", `expired ${options.now - expiresAt(record)} ms ago`)
  }
  if (options.membership === undefined) return Result.succeed(record)
  const member = await admit(record.certificate, record.publisher, options.membership, options.now)
  return Result.isFailure(member) ? Result.fail(member.failure) : Result.succeed(record)
}

export const verify = (bytes: Uint8Array, options: VerifyOptions) =>
  Effect.promise(() => verifyBytes(bytes, options)).pipe(Effect.flatMap(Effect.fromResult))

export const newer = (a: ManifestRecord, b: ManifestRecord) =>
  a.sequence !== b.sequence ? a.sequence > b.sequence : a.issuedAt > b.issuedAt

export const peek = (bytes: Uint8Array): ManifestRecord | undefined => {
  try {
    const envelope = JSON.parse(new TextDecoder().decode(bytes)) as { payload?: unknown }
    if (typeof envelope.payload !== "string") return undefined
    const decoded = decodeRecord(parse(Buffer.from(envelope.payload, "base64")))
    return Result.isSuccess(decoded) ? decoded.success : undefined
  } catch {
    return undefined
  }
}
