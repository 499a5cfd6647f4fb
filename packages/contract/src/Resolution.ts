/**
 * A sidecar asks the agent for the providers of a service in its pod's namespace:
 *
 *   GET {agent}/v1/services/{namespace}/{service} → 200 ResolveResponse
 *
 * with `Authorization: Bearer <pod token>` (the operator's token works too). The addresses are
 * the ones a pod can dial: the agent has already rewritten its host's loopback (see HostLoopback).
 *
 * The answer carries the provider set's `version`. A caller that holds an answer watches it for
 * changes with that version:
 *
 *   GET {agent}/v1/services/{namespace}/{service}?wait={version} → 200 ResolveResponse
 *
 * answered as soon as the set differs from `version`, or after at most HOLD_MS with the same
 * version (ask again). An agent without watches answers at once and without a version: the caller
 * then keeps an answer only briefly and asks again.
 */
import { Schema } from "effect"

/** One pod that serves the service. */
export const Provider = Schema.Struct({
  peerId: Schema.String,
  multiaddrs: Schema.Array(Schema.String),
  pod: Schema.String,
  workload: Schema.String,
})
export type Provider = typeof Provider.Type

export const ResolveResponse = Schema.Struct({
  providers: Schema.Array(Provider),
  /** Names this provider set: the same providers, the same version (absent from older agents). */
  version: Schema.optionalKey(Schema.String),
})
export type ResolveResponse = typeof ResolveResponse.Type

export const path = (namespace: string, service: string): string =>
  `/v1/services/${encodeURIComponent(namespace)}/${encodeURIComponent(service)}`

/** The query parameter of a watch: the version the caller holds. */
export const WAIT_PARAMETER = "wait"

/** How long the agent holds a watch whose provider set has not changed. */
export const HOLD_MS = 20_000

/** The path of a watch on a service's providers, from the version the caller holds. */
export const watchPath = (namespace: string, service: string, version: string): string =>
  `${path(namespace, service)}?${WAIT_PARAMETER}=${encodeURIComponent(version)}`

export const RESOLVED = 200
