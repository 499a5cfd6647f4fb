/**
 * The proxy's per-service traffic as the report the agent receives with each renewal
 * (@beemesh/contract Traffic). The report is bounded: series beyond the contract's limit are
 * added into one overflow series per direction (service ""). The proxy keeps its series in
 * creation order, so a series never moves between its own line and the overflow, and every
 * reported counter only grows.
 */
import { Traffic } from "@beemesh/contract"
import type { ServiceTrafficSnapshot } from "@beemesh/proxy"

const toEntry = (s: ServiceTrafficSnapshot): Traffic.TrafficEntry => ({
  direction: s.direction,
  service: s.service,
  callee: s.peer,
  connections: s.connections,
  bytesSent: s.bytesSent,
  bytesReceived: s.bytesReceived,
  errors: s.errors,
  refused: s.refused,
  setupBuckets: s.setup.buckets,
  setupSumSeconds: s.setup.sumSeconds,
})

const add = (a: Traffic.TrafficEntry, b: Traffic.TrafficEntry): Traffic.TrafficEntry => ({
  ...a,
  connections: a.connections + b.connections,
  bytesSent: a.bytesSent + b.bytesSent,
  bytesReceived: a.bytesReceived + b.bytesReceived,
  errors: a.errors + b.errors,
  refused: a.refused + b.refused,
  setupBuckets: a.setupBuckets.map((n, i) => n + (b.setupBuckets[i] ?? 0)),
  setupSumSeconds: a.setupSumSeconds + b.setupSumSeconds,
})

const isOverflow = (e: Traffic.TrafficEntry) => e.service === "" && e.callee === ""

export const trafficReport = (
  services: ReadonlyArray<ServiceTrafficSnapshot>,
): Traffic.TrafficReport => {
  const entries = services.map(toEntry)
  // Two places are kept for the overflow series, one per direction.
  const room = Traffic.MAX_TRAFFIC_ENTRIES - 2
  const named = entries.filter((e) => !isOverflow(e))
  if (named.length <= room && entries.length <= Traffic.MAX_TRAFFIC_ENTRIES)
    return { version: Traffic.TRAFFIC_VERSION, entries }
  const kept = named.slice(0, room)
  const overflow = new Map<string, Traffic.TrafficEntry>()
  for (const e of [...entries.filter(isOverflow), ...named.slice(room)]) {
    const base = overflow.get(e.direction)
    const zeroed = { ...e, service: "", callee: "" }
    overflow.set(e.direction, base === undefined ? zeroed : add(base, zeroed))
  }
  return { version: Traffic.TRAFFIC_VERSION, entries: [...kept, ...overflow.values()] }
}
