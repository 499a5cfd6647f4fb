import { describe, expect, it } from "vitest"
import { forPods } from "./HostLoopback.js"

describe("HostLoopback.forPods", () => {
  it("moves addresses on the host's loopback to the pod network's gateway", () => {
    expect(forPods("/ip4/127.0.0.1/tcp/40123", "10.0.2.2")).toBe("/ip4/10.0.2.2/tcp/40123")
    expect(forPods("/ip4/127.1.2.3/tcp/1/p2p/12D3KooWx", "10.0.2.2")).toBe(
      "/ip4/10.0.2.2/tcp/1/p2p/12D3KooWx",
    )
    expect(forPods("/ip4/127.0.0.1/tcp/1", "10.9.0.2")).toBe("/ip4/10.9.0.2/tcp/1")
  })

  it("leaves other addresses alone", () => {
    for (const other of [
      "/ip4/192.168.1.7/tcp/40123",
      "/ip4/10.0.2.2/tcp/1",
      "/ip6/::1/tcp/40123",
      "/dns4/localhost/tcp/1",
      "/ip4/1127.0.0.1/tcp/1",
    ])
      expect(forPods(other, "10.0.2.2")).toBe(other)
  })
})
