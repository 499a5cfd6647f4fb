import { describe, expect, it } from "vitest"
import * as UpstreamNames from "./UpstreamNames.js"

describe("UpstreamNames", () => {
  it("gives each upstream its own loopback address after the pod's 127.0.0.1", () => {
    expect(UpstreamNames.addressOf(0)).toBe("127.0.0.2")
    expect(UpstreamNames.addressOf(UpstreamNames.MAX_UPSTREAMS - 1)).toBe("127.0.0.254")
  })

  it("refuses an index without an address", () => {
    expect(() => UpstreamNames.addressOf(UpstreamNames.MAX_UPSTREAMS)).toThrow(/outside 0-252/)
    expect(() => UpstreamNames.addressOf(-1)).toThrow(RangeError)
  })

  it("maps the short, namespaced and cluster names of every upstream to its address", () => {
    const entries = UpstreamNames.hostEntries("shop", [{ service: "orders" }, { service: "cart" }])
    expect(entries).toEqual([
      { name: "orders", address: "127.0.0.2" },
      { name: "orders.shop", address: "127.0.0.2" },
      { name: "orders.shop.svc", address: "127.0.0.2" },
      { name: "orders.shop.svc.cluster.local", address: "127.0.0.2" },
      { name: "cart", address: "127.0.0.3" },
      { name: "cart.shop", address: "127.0.0.3" },
      { name: "cart.shop.svc", address: "127.0.0.3" },
      { name: "cart.shop.svc.cluster.local", address: "127.0.0.3" },
    ])
  })

  it("gives the ports of one service the service's one address", () => {
    const upstreams = [{ service: "web" }, { service: "orders" }, { service: "web" }]
    expect(UpstreamNames.upstreamAddresses(upstreams)).toEqual([
      "127.0.0.2",
      "127.0.0.3",
      "127.0.0.2",
    ])
    expect(
      UpstreamNames.hostEntries("shop", upstreams).filter((e) => !e.name.includes(".")),
    ).toEqual([
      { name: "web", address: "127.0.0.2" },
      { name: "orders", address: "127.0.0.3" },
    ])
  })

  it("names a port of a Service <service>--<port name>", () => {
    expect(UpstreamNames.registrationName("web", "metrics")).toBe("web--metrics")
    expect(UpstreamNames.registrationName("web")).toBe("web")
  })
})
