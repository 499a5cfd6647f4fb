import { createHash } from "node:crypto"
import { DnsLabel } from "@beemesh/contract"
import { Effect, Result } from "effect"
import { CID } from "multiformats/cid"
import * as Digest from "multiformats/hashes/digest"
import { InvalidName } from "./Errors.js"

/**
 * Names and DHT keys. Every name that goes into a key is a DNS-1123 label, which cannot contain
 * `/`, so `/beemesh-svc/<namespace>/<service>/<peer>` is unambiguous: no name can reach another
 * namespace's key, and the key's first segment selects our validator and selector.
 */

/** First key segment of per-provider service records; kad-dht picks validators by it. */
export const SERVICE_PREFIX = "beemesh-svc"
/** First key segment of workload manifests. */
export const MANIFEST_PREFIX = "beemesh-manifest"

const LABEL_RULE = `must be ${DnsLabel.RULE}`
const SUBDOMAIN_RULE =
  "must be a DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters"

/** The reason `value` is not a DNS-1123 label, or undefined when it is one. */
export const labelProblem = (value: string): string | undefined =>
  DnsLabel.isDnsLabel(value) ? undefined : LABEL_RULE

/** The reason `value` is not a DNS-1123 subdomain (pod and workload names), or undefined. */
export const subdomainProblem = (value: string): string | undefined =>
  value.length > 0 &&
  value.length <= 253 &&
  value.split(".").every((l) => labelProblem(l) === undefined)
    ? undefined
    : SUBDOMAIN_RULE

export const checkLabel = (field: string, value: string): Result.Result<string, InvalidName> => {
  const reason = labelProblem(value)
  return reason === undefined
    ? Result.succeed(value)
    : Result.fail(new InvalidName({ field, value, reason }))
}

export const validateLabel = (field: string, value: string): Effect.Effect<string, InvalidName> =>
  Effect.fromResult(checkLabel(field, value))

export const validateSubdomain = (
  field: string,
  value: string,
): Effect.Effect<string, InvalidName> => {
  const reason = subdomainProblem(value)
  return reason === undefined
    ? Effect.succeed(value)
    : Effect.fail(new InvalidName({ field, value, reason }))
}

/** A validated namespace + service pair. */
export interface ServiceName {
  readonly namespace: string
  readonly service: string
}

export const validateServiceName = (namespace: string, service: string) =>
  Effect.all({
    namespace: validateLabel("namespace", namespace),
    service: validateLabel("service", service),
  })

const utf8 = new TextEncoder()

/** DHT key of one provider's signed record for a service. */
export const serviceRecordKey = (name: ServiceName, provider: string): Uint8Array =>
  utf8.encode(`/${SERVICE_PREFIX}/${name.namespace}/${name.service}/${provider}`)

/** DHT key of a manifest. */
export const manifestKey = (namespace: string, name: string): Uint8Array =>
  utf8.encode(`/${MANIFEST_PREFIX}/${namespace}/${name}`)

/** Splits a DHT key into its segments (without the leading empty one). */
export const keySegments = (key: Uint8Array): ReadonlyArray<string> =>
  new TextDecoder().decode(key).split("/").slice(1)

const SHA2_256 = 0x12
const RAW = 0x55

/**
 * The content id whose DHT provider records say "this peer provides namespace/service".
 * Provider records are how a resolver finds *all* providers: one value key could hold only one.
 */
export const serviceCid = (name: ServiceName): CID => {
  const bytes = createHash("sha256")
    .update(`/${SERVICE_PREFIX}/${name.namespace}/${name.service}`)
    .digest()
  return CID.createV1(RAW, Digest.create(SHA2_256, new Uint8Array(bytes)))
}
