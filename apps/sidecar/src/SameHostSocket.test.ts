import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { SameHost } from "@beemesh/proxy"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { multiaddr } from "@multiformats/multiaddr"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { prepareSameHostSocket } from "./SameHostSocket.js"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe("prepareSameHostSocket", () => {
  it("listens where the agent expects and a caller attributes the socket to this peer", async () => {
    const directory = mkdtempSync(join(tmpdir(), "beemesh-samehost-"))
    dirs.push(directory)
    const peerId = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()
    const pod = { directory, namespace: "shop", pod: "web-0" }
    // A socket a predecessor left, and another pod's socket that must stay.
    const stale = SameHostSockets.socketPath(directory, "shop", "web-0", "12D3KooWold")
    const neighbour = SameHostSockets.socketPath(directory, "shop", "web-1", "12D3KooWn")
    writeFileSync(stale, "")
    writeFileSync(neighbour, "")
    const path = await Effect.runPromise(prepareSameHostSocket(pod, peerId))
    expect(path).toBe(SameHostSockets.socketPath(directory, "shop", "web-0", peerId))
    // The address the agent allows this pod to register is the one its listener announces.
    expect(SameHost.unixAddress(path as string).toString()).toBe(
      SameHostSockets.socketAddress(directory, "shop", "web-0", peerId),
    )
    expect(
      SameHost.attributablePath(
        [multiaddr(SameHostSockets.socketAddress(directory, "shop", "web-0", peerId))],
        peerId,
        directory,
      ),
    ).toBe(path)
    expect(existsSync(stale)).toBe(false)
    expect(existsSync(neighbour)).toBe(true)
  })

  it("turns the path off when the socket path would pass the unix limit", async () => {
    const directory = join(tmpdir(), "x".repeat(60))
    const peerId = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()
    const path = await Effect.runPromise(
      prepareSameHostSocket({ directory, namespace: "shop", pod: "web-0" }, peerId),
    )
    expect(path).toBeUndefined()
  })
})
