/**
 * The traffic a sidecar's proxy carried, sent to the agent with every lease renewal (the optional
 * `traffic` field of a Registration, so the pod token authenticates it and an app, which has no
 * token, cannot forge it). Counters are totals since the sidecar started; the agent takes the
 * latest report per pod and keeps the totals of pods that are gone.
 *
 * Version 1. Bounded: at most MAX_TRAFFIC_ENTRIES series of two short names and a fixed number of
 * numbers, so a full report fits in a registration body (Registration.MAX_REGISTRATION_BYTES).
 */
import { Schema } from "effect"

export const TRAFFIC_VERSION = 1

export const MAX_TRAFFIC_ENTRIES = 64

/**
 * Upper bounds (seconds) of the connection-setup histogram's buckets, followed by +Inf; the same
 * as @beemesh/proxy's SETUP_BUCKETS_SECONDS (a sidecar test asserts that they agree).
 */
export const SETUP_BUCKETS_SECONDS: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

const Count = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))
/** Service and workload names are DNS labels (DnsLabel): at most 63 characters. */
const Name = Schema.String.check(Schema.isMaxLength(63))

/** One series of one pod's proxy. */
export const TrafficEntry = Schema.Struct({
  /** outbound: this pod called `service`; inbound: this pod served `service`. */
  direction: Schema.Literals(["inbound", "outbound"]),
  service: Name,
  /** outbound: the provider's workload ("" when no provider was reached); inbound: "". */
  callee: Name,
  connections: Count,
  bytesSent: Count,
  bytesReceived: Count,
  errors: Count,
  refused: Count,
  /** Connections per setup-time bucket (not cumulative), SETUP_BUCKETS_SECONDS then +Inf. */
  setupBuckets: Schema.Array(Count).check(
    Schema.isMinLength(SETUP_BUCKETS_SECONDS.length + 1),
    Schema.isMaxLength(SETUP_BUCKETS_SECONDS.length + 1),
  ),
  setupSumSeconds: Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)),
})
export type TrafficEntry = typeof TrafficEntry.Type

export const TrafficReport = Schema.Struct({
  version: Schema.Literal(TRAFFIC_VERSION),
  entries: Schema.Array(TrafficEntry).check(Schema.isMaxLength(MAX_TRAFFIC_ENTRIES)),
})
export type TrafficReport = typeof TrafficReport.Type
