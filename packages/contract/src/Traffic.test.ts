import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Registration from "./Registration.js"
import * as Traffic from "./Traffic.js"

const entry: Traffic.TrafficEntry = {
  direction: "outbound",
  service: "orders",
  callee: "orders",
  connections: 3,
  bytesSent: 300,
  bytesReceived: 4500,
  errors: 0,
  refused: 1,
  setupBuckets: [0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  setupSumSeconds: 0.02,
}
const registration = {
  namespace: "shop",
  workload: "web",
  pod: "web-0",
  peerId: "12D3KooWx",
  multiaddrs: [],
  services: [],
}
const decode = Schema.decodeUnknownResult(Registration.Registration)

describe("Traffic", () => {
  it("a registration carries a version 1 traffic report, or none", () => {
    const withTraffic = { ...registration, traffic: { version: 1, entries: [entry] } }
    expect(decode(JSON.parse(JSON.stringify(withTraffic)))).toEqual(Result.succeed(withTraffic))
    expect(decode(registration)).toEqual(Result.succeed(registration))
  })

  it("refuses an unknown version, too many entries, a wrong bucket count or negative counts", () => {
    const refused = (traffic: unknown) => Result.isFailure(decode({ ...registration, traffic }))
    expect(refused({ version: 2, entries: [] })).toBe(true)
    expect(
      refused({ version: 1, entries: Array(Traffic.MAX_TRAFFIC_ENTRIES + 1).fill(entry) }),
    ).toBe(true)
    expect(refused({ version: 1, entries: [{ ...entry, setupBuckets: [1] }] })).toBe(true)
    expect(refused({ version: 1, entries: [{ ...entry, bytesSent: -1 }] })).toBe(true)
  })

  it("a full report stays below the registration body limit", () => {
    const big = 2 ** 52
    const full = {
      ...registration,
      traffic: {
        version: 1,
        entries: Array.from({ length: Traffic.MAX_TRAFFIC_ENTRIES }, (_, i) => ({
          ...entry,
          service: `s${i}`.padEnd(63, "x"),
          callee: `c${i}`.padEnd(63, "x"),
          connections: big,
          bytesSent: big,
          bytesReceived: big,
          errors: big,
          refused: big,
          setupBuckets: entry.setupBuckets.map(() => big),
          setupSumSeconds: big + 0.123456789,
        })),
      },
    }
    expect(JSON.stringify(full).length).toBeLessThan(Registration.MAX_REGISTRATION_BYTES)
  })
})
