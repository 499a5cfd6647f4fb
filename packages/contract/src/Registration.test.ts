import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Registration from "./Registration.js"
import * as Resolution from "./Resolution.js"

const body = {
  namespace: "shop",
  workload: "web",
  pod: "web-0",
  peerId: "12D3KooWx",
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: [{ name: "web", port: 80 }],
}

const decode = Schema.decodeUnknownResult(Registration.Registration)
const problem = (input: unknown) => {
  const r = decode(input)
  if (Result.isSuccess(r)) throw new Error("expected a refusal")
  return r.failure.message
}

describe("Registration", () => {
  it("decodes a sidecar's registration as JSON carries it", () => {
    expect(decode(JSON.parse(JSON.stringify(body)))).toEqual(Result.succeed(body))
  })

  it("refuses a body that breaks the contract, naming the field", () => {
    expect(problem({})).toMatch(/namespace/)
    expect(problem({ ...body, peerId: "" })).toMatch(/peerId/)
    expect(problem({ ...body, services: [{ name: "web", port: 0 }] })).toMatch(/port/)
    expect(problem({ ...body, services: [{ name: "web", port: 80.5 }] })).toMatch(/port/)
    expect(problem({ ...body, multiaddrs: Array(17).fill("/ip4/1.2.3.4/tcp/1") })).toMatch(
      /multiaddrs/,
    )
    expect(
      problem({
        ...body,
        services: Array.from({ length: 33 }, (_, i) => ({ name: `s${i}`, port: 80 })),
      }),
    ).toMatch(/services/)
  })

  it("has a lease with positive seconds", () => {
    const lease = Schema.decodeUnknownResult(Registration.Lease)
    expect(lease({ ttlSeconds: 30, renewAfterSeconds: 10 })).toEqual(
      Result.succeed({ ttlSeconds: 30, renewAfterSeconds: 10 }),
    )
    expect(Result.isFailure(lease({ ttlSeconds: 0, renewAfterSeconds: 10 }))).toBe(true)
    expect(Result.isFailure(lease({ ttlSeconds: 30 }))).toBe(true)
  })

  it("may carry the sidecar's chain of at most two certificates", () => {
    const lease = Schema.decodeUnknownResult(Registration.Lease)
    const terms = { ttlSeconds: 30, renewAfterSeconds: 10 }
    expect(lease({ ...terms, certificates: ["bmc1.a.b", "bmc1.c.d"] })).toEqual(
      Result.succeed({ ...terms, certificates: ["bmc1.a.b", "bmc1.c.d"] }),
    )
    expect(Result.isFailure(lease({ ...terms, certificates: ["a", "b", "c"] }))).toBe(true)
    expect(Result.isFailure(lease({ ...terms, certificates: ["x".repeat(4097)] }))).toBe(true)
  })

  it("puts pod and service names into paths safely", () => {
    expect(Registration.path("web-0")).toBe("/v1/pods/web-0/services")
    expect(Registration.path("a/b")).toBe("/v1/pods/a%2Fb/services")
    expect(Resolution.path("shop", "orders")).toBe("/v1/services/shop/orders")
    expect(Resolution.path("a/..", "b")).toBe("/v1/services/a%2F../b")
  })
})

describe("Resolution", () => {
  it("decodes the providers and refuses an answer without them", () => {
    const decodeAnswer = Schema.decodeUnknownResult(Resolution.ResolveResponse)
    const providers = [{ peerId: "12D3KooWx", multiaddrs: [], pod: "web-0", workload: "web" }]
    expect(decodeAnswer({ providers })).toEqual(Result.succeed({ providers }))
    expect(Result.isFailure(decodeAnswer({}))).toBe(true)
    expect(Result.isFailure(decodeAnswer({ providers: [{ peerId: "x" }] }))).toBe(true)
  })
})
