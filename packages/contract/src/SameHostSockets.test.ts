import { describe, expect, it } from "vitest"
import { isSocketOfPod, MOUNT, socketAddress, socketPath, socketPrefix } from "./SameHostSockets.js"

describe("SameHostSockets", () => {
  it("gives each pod its own short prefix; a socket path stays within the unix limit", () => {
    const prefix = socketPrefix("shop", "web-0")
    expect(prefix).toMatch(/^[0-9a-f]{12}$/)
    expect(socketPrefix("shop", "web-1")).not.toBe(prefix)
    expect(socketPrefix("shop2", "web-0")).not.toBe(prefix)
    const peerId = "12D3KooWGzh2Cp2Yn3u7wcbHiVJZxQmhfcXc27aDwVJcAPHYvjQj"
    expect(Buffer.byteLength(`${MOUNT}/${prefix}.${peerId}`)).toBeLessThanOrEqual(107)
  })

  it("tells a pod's sockets from the others'", () => {
    const prefix = socketPrefix("shop", "web-0")
    expect(isSocketOfPod(`${prefix}.12D3KooW`, "shop", "web-0")).toBe(true)
    expect(isSocketOfPod(`${prefix}.12D3KooW`, "shop", "web-1")).toBe(false)
    expect(isSocketOfPod(prefix, "shop", "web-0")).toBe(false)
  })

  it("names a pod's socket by its prefix and peer id, and its address as libp2p writes a unix path", () => {
    const peerId = "12D3KooWGzh2Cp2Yn3u7wcbHiVJZxQmhfcXc27aDwVJcAPHYvjQj"
    const path = socketPath(`${MOUNT}/`, "shop", "web-0", peerId)
    expect(path).toBe(`${MOUNT}/${socketPrefix("shop", "web-0")}.${peerId}`)
    expect(isSocketOfPod(path.slice(MOUNT.length + 1), "shop", "web-0")).toBe(true)
    expect(socketAddress(MOUNT, "shop", "web-0", peerId)).toBe(`/unix/${encodeURIComponent(path)}`)
  })
})
