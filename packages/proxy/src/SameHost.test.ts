import { multiaddr } from "@multiformats/multiaddr"
import { describe, expect, it } from "vitest"
import { attributablePath, socketPath, unixAddress, unixPathOf } from "./SameHost.js"

const peer = "12D3KooWGzh2Cp2Yn3u7wcbHiVJZxQmhfcXc27aDwVJcAPHYvjQj"
const other = "12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"
const dir = "/run/beemesh/samehost"
const published = multiaddr("/ip4/10.0.2.2/tcp/40123")

describe("SameHost", () => {
  it("names a socket by prefix and peer id, and reads the path back from its address", () => {
    const path = socketPath(`${dir}/`, "a1b2c3", peer)
    expect(path).toBe(`${dir}/a1b2c3.${peer}`)
    expect(unixPathOf(unixAddress(path).encapsulate(`/p2p/${peer}`))).toBe(path)
    expect(unixPathOf(published)).toBeUndefined()
  })

  it("attributes only a socket in the own directory named for the provider", () => {
    const own = unixAddress(socketPath(dir, "x", peer))
    expect(attributablePath([published, own], peer, dir)).toBe(`${dir}/x.${peer}`)
    // Another directory: another agent's or another host's sidecars.
    expect(attributablePath([unixAddress(socketPath("/elsewhere", "x", peer))], peer, dir)).toBe(
      undefined,
    )
    // Named for another peer, or nested below the directory.
    expect(attributablePath([unixAddress(socketPath(dir, "x", other))], peer, dir)).toBeUndefined()
    expect(attributablePath([unixAddress(`${dir}/sub/x.${peer}`)], peer, dir)).toBeUndefined()
    expect(attributablePath([published], peer, dir)).toBeUndefined()
  })
})
