import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import * as Names from "./Names.js"

describe("Names", () => {
  it("accepts DNS-1123 labels", () => {
    for (const ok of ["a", "orders", "web-1", "0abc", "x".repeat(63)]) {
      expect(Names.labelProblem(ok)).toBeUndefined()
    }
  })

  it("rejects hostile and malformed names with a readable reason", () => {
    const hostile = [
      "",
      "Orders",
      "a/b",
      "../etc",
      "a..b",
      "-a",
      "a-",
      "a_b",
      "x".repeat(64),
      "a\u0000",
      "ä",
      " a",
    ]
    for (const bad of hostile) {
      const exit = Effect.runSyncExit(Names.validateServiceName("default", bad))
      expect(Exit.isFailure(exit), bad).toBe(true)
    }
    const error = Effect.runSync(Effect.flip(Names.validateServiceName("prod/../other", "orders")))
    expect(error._tag).toBe("InvalidName")
    expect(error.field).toBe("namespace")
    expect(error.message).toContain('invalid namespace "prod/../other"')
    expect(error.message).toContain("DNS-1123 label")
  })

  it("accepts subdomains for pods and workloads", () => {
    expect(Names.subdomainProblem("web-7d9f.default")).toBeUndefined()
    expect(Names.subdomainProblem("web..x")).toBeDefined()
    expect(Names.subdomainProblem("a".repeat(254))).toBeDefined()
  })

  it("derives distinct keys and content ids per namespace and service", () => {
    const a = { namespace: "prod", service: "orders" }
    const b = { namespace: "dev", service: "orders" }
    const key = new TextDecoder().decode(Names.serviceRecordKey(a, "12D3KooWpeer"))
    expect(key).toBe("/beemesh-svc/prod/orders/12D3KooWpeer")
    expect(Names.keySegments(Names.serviceRecordKey(a, "p"))).toEqual([
      "beemesh-svc",
      "prod",
      "orders",
      "p",
    ])
    expect(Names.serviceCid(a).toString()).not.toBe(Names.serviceCid(b).toString())
    expect(Names.serviceCid(a).toString()).toBe(Names.serviceCid({ ...a }).toString())
    expect(new TextDecoder().decode(Names.manifestKey("prod", "web"))).toBe(
      "/beemesh-manifest/prod/web",
    )
  })
})
