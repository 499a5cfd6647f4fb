/**
 * Service traffic at the agent: the latest traffic report of each pod (sent by its sidecar with
 * every lease renewal) summed into series per caller→callee pair, plus the totals of reports that
 * are gone, so that every counter only grows (as Prometheus counters must):
 *
 * - a pod that unregisters leaves its last report's totals behind;
 * - a sidecar that restarted (new peer id, or a counter that went down) starts from zero: its
 *   previous report's totals are kept first.
 *
 * A series is `{namespace, service, caller, callee, reporter}`. The caller's sidecar reports
 * (`reporter: "caller"`) with both workloads: its own, and the provider's from the resolve
 * answer. The provider's sidecar reports (`reporter: "provider"`) without the caller, which it
 * cannot tell from a libp2p peer. `bytesSent`/`bytesReceived` are seen from the reporter.
 */
import { Traffic } from "@beemesh/contract"
import { Order } from "effect"
import type { PodIdentity } from "./Tokens"

export type Reporter = "caller" | "provider"

export interface SeriesKey {
  readonly namespace: string
  readonly service: string
  /** The calling workload; "" when the provider reports. */
  readonly caller: string
  /** The providing workload; "" when no provider was reached. */
  readonly callee: string
  readonly reporter: Reporter
}

export interface SeriesTotals {
  readonly connections: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly errors: number
  readonly refused: number
  /** Per setup-time bucket (not cumulative): Traffic.SETUP_BUCKETS_SECONDS, then +Inf. */
  readonly setupBuckets: ReadonlyArray<number>
  readonly setupSumSeconds: number
}

export interface TrafficSeries extends SeriesKey, SeriesTotals {}

/** What `GET /v1/traffic` answers (the CLI's `top` and the dashboard read it). */
export interface TrafficView {
  readonly setupBucketsSeconds: ReadonlyArray<number>
  readonly series: ReadonlyArray<TrafficSeries>
}

interface PodReport {
  readonly peerId: string
  readonly series: ReadonlyMap<string, TrafficSeries>
}

const zero = (): SeriesTotals => ({
  connections: 0,
  bytesSent: 0,
  bytesReceived: 0,
  errors: 0,
  refused: 0,
  setupBuckets: new Array(Traffic.SETUP_BUCKETS_SECONDS.length + 1).fill(0),
  setupSumSeconds: 0,
})

const add = (a: SeriesTotals, b: SeriesTotals): SeriesTotals => ({
  connections: a.connections + b.connections,
  bytesSent: a.bytesSent + b.bytesSent,
  bytesReceived: a.bytesReceived + b.bytesReceived,
  errors: a.errors + b.errors,
  refused: a.refused + b.refused,
  setupBuckets: a.setupBuckets.map((n, i) => n + (b.setupBuckets[i] ?? 0)),
  setupSumSeconds: a.setupSumSeconds + b.setupSumSeconds,
})

const keyString = (k: SeriesKey) =>
  JSON.stringify([k.namespace, k.service, k.caller, k.callee, k.reporter])

const fromEntry = (identity: PodIdentity, e: Traffic.TrafficEntry): TrafficSeries => ({
  namespace: identity.namespace,
  service: e.service,
  reporter: e.direction === "outbound" ? "caller" : "provider",
  caller: e.direction === "outbound" ? identity.workload : "",
  callee: e.direction === "outbound" ? e.callee : identity.workload,
  connections: e.connections,
  bytesSent: e.bytesSent,
  bytesReceived: e.bytesReceived,
  errors: e.errors,
  refused: e.refused,
  setupBuckets: e.setupBuckets,
  setupSumSeconds: e.setupSumSeconds,
})

/** True when `next` cannot follow `previous` from the same running sidecar. */
const restarted = (previous: PodReport, next: PodReport): boolean => {
  if (previous.peerId !== next.peerId) return true
  for (const [key, before] of previous.series) {
    const after = next.series.get(key)
    if (after === undefined) return true
    if (
      after.connections < before.connections ||
      after.bytesSent < before.bytesSent ||
      after.bytesReceived < before.bytesReceived ||
      after.errors < before.errors ||
      after.refused < before.refused
    )
      return true
  }
  return false
}

const podKey = (identity: PodIdentity) =>
  `${identity.namespace}/${identity.workload}/${identity.pod}`

export class ServiceTraffic {
  private readonly latest = new Map<string, PodReport>()
  /** Totals of reports that are gone, by series. */
  private readonly retired = new Map<string, TrafficSeries>()

  /** Takes a pod's latest report (from a registration or renewal). */
  report(identity: PodIdentity, peerId: string, report: Traffic.TrafficReport): void {
    const series = new Map<string, TrafficSeries>()
    for (const entry of report.entries) {
      const s = fromEntry(identity, entry)
      const k = keyString(s)
      const same = series.get(k)
      series.set(k, same === undefined ? s : { ...s, ...add(same, s) })
    }
    const next = { peerId, series }
    const previous = this.latest.get(podKey(identity))
    if (previous !== undefined && restarted(previous, next)) this.retire(previous)
    this.latest.set(podKey(identity), next)
  }

  /** The pod is gone (it unregistered): its totals stay in the sums. */
  forget(identity: PodIdentity): void {
    const previous = this.latest.get(podKey(identity))
    if (previous === undefined) return
    this.retire(previous)
    this.latest.delete(podKey(identity))
  }

  /** Every series: retired totals plus each pod's latest report. */
  view(): TrafficView {
    const sums = new Map(this.retired)
    for (const pod of this.latest.values()) {
      for (const [k, s] of pod.series) {
        const base = sums.get(k)
        sums.set(k, base === undefined ? s : { ...base, ...add(base, s) })
      }
    }
    return {
      setupBucketsSeconds: Traffic.SETUP_BUCKETS_SECONDS,
      series: [...sums.values()].sort(Order.mapInput(Order.String, keyString)),
    }
  }

  private retire(report: PodReport): void {
    for (const [k, s] of report.series) {
      const base = this.retired.get(k) ?? { ...s, ...zero() }
      this.retired.set(k, { ...base, ...add(base, s) })
    }
  }
}
