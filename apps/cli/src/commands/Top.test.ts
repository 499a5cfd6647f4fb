import { describe, expect, it } from "vitest"
import { bytes, trafficRows } from "./Top"

describe("top", () => {
  it("shows each pair with readable bytes and the mean setup time", () => {
    const table = trafficRows([
      {
        namespace: "shop",
        service: "orders",
        caller: "web",
        callee: "orders",
        reporter: "caller",
        connections: 4,
        bytesSent: 400,
        bytesReceived: 3 * 1024 * 1024,
        errors: 1,
        refused: 0,
        setupBuckets: [2, 2, 0],
        setupSumSeconds: 0.01,
      },
      {
        namespace: "shop",
        service: "orders",
        caller: "",
        callee: "orders",
        reporter: "provider",
        connections: 4,
        bytesSent: 3 * 1024 * 1024,
        bytesReceived: 400,
        errors: 0,
        refused: 0,
        setupBuckets: [0, 0, 0],
        setupSumSeconds: 0,
      },
    ])
    const [header, caller, provider] = table.trimEnd().split("\n")
    expect(header?.split(/\s+/)).toEqual([
      "NAMESPACE",
      "SERVICE",
      "CALLER",
      "CALLEE",
      "REPORTER",
      "CONNS",
      "SENT",
      "RECEIVED",
      "ERRORS",
      "REFUSED",
      "SETUP",
    ])
    expect(caller).toMatch(
      /^shop\s+orders\s+web\s+orders\s+caller\s+4\s+400 B\s+3\.0 MiB\s+1\s+0\s+2\.5 ms$/,
    )
    expect(provider).toMatch(
      /^shop\s+orders\s+-\s+orders\s+provider\s+4\s+3\.0 MiB\s+400 B\s+0\s+0\s+-$/,
    )
  })

  it("formats bytes in binary units", () => {
    expect(bytes(0)).toBe("0 B")
    expect(bytes(1536)).toBe("1.5 KiB")
    expect(bytes(200 * 1024 * 1024)).toBe("200 MiB")
  })
})
