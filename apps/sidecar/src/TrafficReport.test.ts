import { Traffic } from "@beemesh/contract"
import { SETUP_BUCKETS_SECONDS, TrafficTable } from "@beemesh/proxy"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { trafficReport } from "./TrafficReport"

describe("trafficReport", () => {
  it("uses the contract's setup-time buckets (proxy and contract agree)", () => {
    expect(SETUP_BUCKETS_SECONDS).toEqual(Traffic.SETUP_BUCKETS_SECONDS)
  })

  it("reports each series with its counters, valid under the contract", () => {
    const table = new TrafficTable()
    const out = table.of("outbound", "orders", "orders")
    out.connected(0.002)
    out.bytesOut += 100
    out.bytesIn += 2000
    table.of("inbound", "web", "").errors++
    const report = trafficReport(table.snapshot())
    expect(Schema.decodeUnknownSync(Traffic.TrafficReport)(report)).toEqual(report)
    expect(report.entries[0]).toMatchObject({
      direction: "outbound",
      service: "orders",
      callee: "orders",
      connections: 1,
      bytesSent: 100,
      bytesReceived: 2000,
    })
    expect(report.entries[0]?.setupBuckets[1]).toBe(1)
    expect(report.entries[1]).toMatchObject({ direction: "inbound", service: "web", errors: 1 })
  })

  it("adds series beyond the contract's limit into one overflow series per direction", () => {
    const table = new TrafficTable()
    for (let i = 0; i < 100; i++) table.of("outbound", `s${i}`, "p").connected(0.001)
    table.of("inbound", "", "").refused += 5
    const report = trafficReport(table.snapshot())
    expect(report.entries).toHaveLength(Traffic.MAX_TRAFFIC_ENTRIES)
    const overflow = report.entries.filter((e) => e.service === "")
    expect(overflow.find((e) => e.direction === "outbound")?.connections).toBe(100 - 62)
    expect(overflow.find((e) => e.direction === "inbound")?.refused).toBe(5)
    expect(report.entries.reduce((n, e) => n + e.connections, 0)).toBe(100)
    expect(() => Schema.decodeUnknownSync(Traffic.TrafficReport)(report)).not.toThrow()
  })
})
