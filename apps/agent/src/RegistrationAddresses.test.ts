import { describe, expect, it } from "vitest"
import {
  addressProblem,
  podAddresses,
  publishedAddress,
  sameHostAddress,
} from "./RegistrationAddresses"

const relay = "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWrelay"
const pod = { hostPort: 41000, peerId: "12D3KooWpod" }

describe("the addresses a sidecar may register", () => {
  it("are its published port on the advertise host and circuits through the agent's relays", () => {
    expect(podAddresses({ advertiseHost: "192.0.2.7", relays: [relay] }, pod)).toEqual([
      "/ip4/192.0.2.7/tcp/41000",
      `${relay}/p2p-circuit`,
    ])
    expect(publishedAddress("fd00::7", 41000)).toBe("/ip6/fd00::7/tcp/41000")
  })

  it("accept those with or without the pod's own peer id", () => {
    const rules = { advertiseHost: "192.0.2.7", relays: [relay] }
    const own = [
      "/ip4/192.0.2.7/tcp/41000",
      "/ip4/192.0.2.7/tcp/41000/p2p/12D3KooWpod",
      `${relay}/p2p-circuit`,
      `${relay}/p2p-circuit/p2p/12D3KooWpod`,
    ]
    expect(addressProblem(own, rules, pod)).toBeUndefined()
    expect(addressProblem([], rules, pod)).toBeUndefined()
  })

  it.each([
    ["another pod's port", "/ip4/192.0.2.7/tcp/41001"],
    ["another host", "/ip4/198.51.100.1/tcp/41000"],
    ["the host's loopback", "/ip4/127.0.0.1/tcp/41000"],
    ["another peer id", "/ip4/192.0.2.7/tcp/41000/p2p/12D3KooWother"],
    ["a circuit to another peer", `${relay}/p2p-circuit/p2p/12D3KooWother`],
    ["a foreign relay", "/ip4/198.51.100.1/tcp/4001/p2p/12D3KooWevil/p2p-circuit"],
    ["not a multiaddr", "http://192.0.2.7:41000"],
  ])("refuse %s, naming it and what is allowed", (_, address) => {
    const problem = addressProblem(
      ["/ip4/192.0.2.7/tcp/41000", address],
      { advertiseHost: "192.0.2.7", relays: [relay] },
      pod,
    )
    expect(problem).toContain(`address ${address} is not this pod's`)
    expect(problem).toContain("/ip4/192.0.2.7/tcp/41000, ")
  })

  it("a pod without a published port may register no address at all", () => {
    const problem = addressProblem(
      ["/ip4/192.0.2.7/tcp/41000"],
      { advertiseHost: "192.0.2.7", relays: [] },
      { hostPort: undefined, peerId: "12D3KooWpod" },
    )
    expect(problem).toMatch(/no address yet \(its pod has no published port\)/)
  })

  it("its own same-host socket, when sidecars have one, and no other pod's", () => {
    const rules = { advertiseHost: "192.0.2.7", relays: [], sameHost: true }
    const mine = { hostPort: 41000, peerId: "12D3KooWpod", namespace: "shop", pod: "web-0" }
    const socket = sameHostAddress("shop", "web-0", "12D3KooWpod")
    expect(socket).toMatch(/^\/unix\/%2Frun%2Fbeemesh%2Fsamehost%2F[0-9a-f]{12}\.12D3KooWpod$/)
    expect(
      addressProblem(
        ["/ip4/192.0.2.7/tcp/41000", socket, `${socket}/p2p/12D3KooWpod`],
        rules,
        mine,
      ),
    ).toBeUndefined()
    const other = sameHostAddress("shop", "db-0", "12D3KooWpod")
    expect(addressProblem([other], rules, mine)).toContain(`address ${other} is not this pod's`)
    expect(addressProblem([socket], { ...rules, sameHost: false }, mine)).toContain(
      "is not this pod's",
    )
  })
})
