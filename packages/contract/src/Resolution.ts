/**
 * A sidecar asks the agent for the providers of a service in its pod's namespace:
 *
 *   GET {agent}/v1/services/{namespace}/{service} → 200 ResolveResponse
 *
 * with `Authorization: Bearer <pod token>` (the operator's token works too). The addresses are
 * the ones a pod can dial: the agent has already rewritten its host's loopback (see HostLoopback).
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

export const ResolveResponse = Schema.Struct({ providers: Schema.Array(Provider) })
export type ResolveResponse = typeof ResolveResponse.Type

export const path = (namespace: string, service: string): string =>
  `/v1/services/${encodeURIComponent(namespace)}/${encodeURIComponent(service)}`

export const RESOLVED = 200
