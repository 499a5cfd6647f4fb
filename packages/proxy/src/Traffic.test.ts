import { describe, expect, it } from "vitest"
import { MAX_TRAFFIC_SERIES, SETUP_BUCKETS_SECONDS, TrafficTable } from "./Traffic.js"

describe("TrafficTable", () => {
  it("puts a setup time in the first bucket whose bound is not below it, and beyond the last in +Inf", () => {
    const table = new TrafficTable()
    const series = table.of("outbound", "orders", "orders")
    series.connected(0.001)
    series.connected(0.003)
    series.connected(60)
    const { setup } = series.snapshot()
    expect(setup.buckets).toHaveLength(SETUP_BUCKETS_SECONDS.length + 1)
    expect(setup.buckets[0]).toBe(1)
    expect(setup.buckets[2]).toBe(1)
    expect(setup.buckets[SETUP_BUCKETS_SECONDS.length]).toBe(1)
    expect(setup.count).toBe(3)
    expect(setup.sumSeconds).toBeCloseTo(60.004)
  })

  it("returns the same series for the same key, and counts beyond the limit in the overflow series", () => {
    const table = new TrafficTable()
    expect(table.of("inbound", "a", "")).toBe(table.of("inbound", "a", ""))
    for (let i = 0; table.snapshot().length < MAX_TRAFFIC_SERIES; i++)
      table.of("outbound", `s${i}`, "p")
    table.of("outbound", "one-too-many", "p").refused++
    table.of("outbound", "another", "p").refused++
    const overflow = table.snapshot().find((s) => s.service === "" && s.direction === "outbound")
    expect(overflow?.refused).toBe(2)
    expect(table.snapshot()).toHaveLength(MAX_TRAFFIC_SERIES + 1)
  })
})
