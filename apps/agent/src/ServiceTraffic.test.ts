import type { Traffic } from "@beemesh/contract"
import { describe, expect, it } from "vitest"
import { ServiceTraffic } from "./ServiceTraffic"

const web0 = { namespace: "shop", workload: "web", pod: "web-0" }
const web1 = { namespace: "shop", workload: "web", pod: "web-1" }
const orders0 = { namespace: "shop", workload: "orders", pod: "orders-0" }

const entry = (
  direction: "inbound" | "outbound",
  service: string,
  callee: string,
  n: number,
): Traffic.TrafficEntry => ({
  direction,
  service,
  callee,
  connections: n,
  bytesSent: 100 * n,
  bytesReceived: 1000 * n,
  errors: 0,
  refused: 0,
  setupBuckets: [n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  setupSumSeconds: 0.001 * n,
})
const report = (...entries: Array<Traffic.TrafficEntry>): Traffic.TrafficReport => ({
  version: 1,
  entries,
})
const series = (t: ServiceTraffic, reporter: "caller" | "provider") =>
  t.view().series.filter((s) => s.reporter === reporter)

describe("ServiceTraffic", () => {
  it("sums the latest report of each pod per caller→callee pair", () => {
    const t = new ServiceTraffic()
    t.report(web0, "p0", report(entry("outbound", "orders", "orders", 2)))
    t.report(web0, "p0", report(entry("outbound", "orders", "orders", 5)))
    t.report(web1, "p1", report(entry("outbound", "orders", "orders", 3)))
    t.report(orders0, "p2", report(entry("inbound", "orders", "", 8)))
    expect(series(t, "caller")).toEqual([
      expect.objectContaining({
        namespace: "shop",
        service: "orders",
        caller: "web",
        callee: "orders",
        connections: 8,
        bytesSent: 800,
        bytesReceived: 8000,
      }),
    ])
    expect(series(t, "provider")).toEqual([
      expect.objectContaining({ caller: "", callee: "orders", connections: 8, bytesSent: 800 }),
    ])
    expect(series(t, "caller")[0]?.setupBuckets[0]).toBe(8)
  })

  it("keeps a gone pod's totals, so counters never go down", () => {
    const t = new ServiceTraffic()
    t.report(web0, "p0", report(entry("outbound", "orders", "orders", 4)))
    t.forget(web0)
    expect(series(t, "caller")[0]?.connections).toBe(4)
    t.report(web0, "p9", report(entry("outbound", "orders", "orders", 1)))
    expect(series(t, "caller")[0]?.connections).toBe(5)
  })

  it("a restarted sidecar (new peer id or a counter that went down) adds to the old totals", () => {
    const t = new ServiceTraffic()
    t.report(web0, "p0", report(entry("outbound", "orders", "orders", 4)))
    t.report(web0, "p0", report(entry("outbound", "orders", "orders", 1)))
    expect(series(t, "caller")[0]?.connections).toBe(5)
    t.report(web0, "p1", report(entry("outbound", "orders", "orders", 6)))
    expect(series(t, "caller")[0]?.connections).toBe(11)
    t.report(web0, "p1", report(entry("outbound", "orders", "orders", 7)))
    expect(series(t, "caller")[0]?.connections).toBe(12)
  })
})
