import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as UpstreamList from "./UpstreamList.js"

const failure = (raw: string) => {
  const parsed = UpstreamList.parse(raw)
  if (Result.isSuccess(parsed)) throw new Error(`${raw} was accepted`)
  return parsed.failure
}

describe("UpstreamList", () => {
  it("reads services by name and ports of a multi-port Service by service:portName", () => {
    const parsed = UpstreamList.parse("orders=9001, web:http=80,web:metrics=9090")
    expect(Result.getOrThrow(parsed)).toEqual([
      { service: "orders", port: 9001 },
      { service: "web", port: 80, servicePort: "http" },
      { service: "web", port: 9090, servicePort: "metrics" },
    ])
    expect(UpstreamList.format(Result.getOrThrow(parsed))).toBe(
      "orders=9001,web:http=80,web:metrics=9090",
    )
  })

  it("resolves a port by its registration name, a service by its own", () => {
    expect(UpstreamList.registered({ service: "web", servicePort: "metrics" })).toBe("web--metrics")
    expect(UpstreamList.registered({ service: "orders" })).toBe("orders")
    expect(UpstreamList.describe({ service: "web", servicePort: "metrics" })).toBe("web:metrics")
  })

  it("the same service may be listed by name and by a port; the same one twice is refused", () => {
    expect(Result.isSuccess(UpstreamList.parse("web=81,web:http=80"))).toBe(true)
    expect(failure("stock=9001,stock=9003")).toMatchObject({
      kind: "duplicate",
      reason: 'service "stock" appears twice',
    })
    expect(failure("web:http=80,web:http=81")).toMatchObject({
      kind: "duplicate",
      reason: 'port http of service "web" appears twice',
    })
  })

  it("refuses a bad port name, and one that makes the registered name too long", () => {
    expect(failure("web:=80")).toMatchObject({
      kind: "portName",
      reason: "\"web:\": the port name after ':' is empty",
    })
    expect(failure("web:Metrics=80").reason).toContain("not a DNS-1123 label")
    expect(failure(`${"s".repeat(40)}:${"p".repeat(30)}=80`).reason).toContain(
      "characters long; at most 63",
    )
    expect(failure("other/web:http=80")).toMatchObject({ kind: "name", subject: "other/web" })
  })

  it("the codec reads and writes the form the sidecar gets, and refuses a bad list both ways", () => {
    const decode = Schema.decodeUnknownResult(UpstreamList.UpstreamList)
    const encode = Schema.encodeUnknownResult(UpstreamList.UpstreamList)
    expect(Result.getOrThrow(decode("web:metrics=9090"))).toEqual([
      { service: "web", port: 9090, servicePort: "metrics" },
    ])
    expect(
      Result.getOrThrow(encode([{ service: "web", port: 9090, servicePort: "metrics" }])),
    ).toBe("web:metrics=9090")
    expect(Result.isFailure(decode("web:Metrics=9090"))).toBe(true)
    expect(Result.isFailure(encode([{ service: "web", port: 9090, servicePort: "a--" }]))).toBe(
      true,
    )
  })
})
