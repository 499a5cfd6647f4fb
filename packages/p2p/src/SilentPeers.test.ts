import { randomBytes } from "node:crypto"
import { readdirSync } from "node:fs"
import * as net from "node:net"
import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { generateMeshKey } from "./MeshKey.js"
import { makeP2pNode, type P2pNode } from "./P2pNode.js"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

/** This process's open file descriptors (the node runs in it: its sockets are counted here). */
const openFds = () => readdirSync("/proc/self/fd").length

/** The host and port of the node's TCP listen address (`/ip4/<host>/tcp/<port>`). */
const tcpAddress = (node: P2pNode) => {
  const [, , host, , port] = node.multiaddrs()[0]!.toString().split("/")
  return { host: host!, port: Number(port) }
}

interface Silent {
  readonly socket: net.Socket
  /** Resolves with the milliseconds from connect to the node closing it. */
  readonly closedAfter: Promise<number>
}

/** A TCP peer that connects and then sends `first` (or nothing) and nothing more. */
const silentPeer = (node: P2pNode, first?: Uint8Array) =>
  new Promise<Silent>((resolve, reject) => {
    const socket = net.connect(tcpAddress(node))
    socket.once("error", reject)
    socket.once("connect", () => {
      socket.off("error", reject)
      socket.on("error", () => undefined)
      const connectedAt = performance.now()
      if (first !== undefined) socket.write(first)
      // Reads (and drops) what the node sends: a socket never read from never notices the close.
      socket.resume()
      const closedAfter = new Promise<number>((done) =>
        socket.once("close", () => done(performance.now() - connectedAt)),
      )
      resolve({ socket, closedAfter })
    })
  })

const waitFor = async (what: string, check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("silent peers (handshake bounds)", () => {
  it("a peer that connects to a member and sends nothing is dropped within the default upgrade bound (5 s)", async () => {
    await run(
      Effect.gen(function* () {
        const node = yield* makeP2pNode({ meshKey: generateMeshKey() })
        const baseline = openFds()
        const peers = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 50 }, () => silentPeer(node))),
        )
        const closed = yield* Effect.promise(() => Promise.all(peers.map((p) => p.closedAfter)))
        // The private network's own 2 s bound does not cover a peer that sends nothing (measured:
        // dropped at ~5 s): the upgrade's bound does, with a margin for a loaded 2-core machine.
        expect(Math.max(...closed)).toBeLessThan(7_000)
        expect(node.node.getConnections()).toEqual([])
        yield* Effect.promise(() =>
          waitFor("the node's sockets to be released", () => openFds() <= baseline, 5_000),
        )
      }),
    )
  })

  it("a peer that stalls after the first handshake step is dropped within the upgrade bound", async () => {
    await run(
      Effect.gen(function* () {
        const node = yield* makeP2pNode({
          meshKey: generateMeshKey(),
          inboundUpgradeTimeoutMs: 1_000,
        })
        // The private network's 24-byte nonce: that step completes, then the peer falls silent.
        const peers = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 20 }, () => silentPeer(node, randomBytes(24)))),
        )
        const closed = yield* Effect.promise(() => Promise.all(peers.map((p) => p.closedAfter)))
        expect(Math.max(...closed)).toBeLessThan(3_000)
        expect(node.node.getConnections()).toEqual([])
      }),
    )
  })

  it("an open node (no mesh key) drops a silent peer within the upgrade bound too", async () => {
    await run(
      Effect.gen(function* () {
        const node = yield* makeP2pNode({ inboundUpgradeTimeoutMs: 1_000 })
        const peer = yield* Effect.promise(() => silentPeer(node))
        const closed = yield* Effect.promise(() => peer.closedAfter)
        expect(closed).toBeLessThan(3_000)
      }),
    )
  })

  it("150 silent peers holding handshakes open do not stop a member's call; all are released after", async () => {
    const meshKey = generateMeshKey()
    await run(
      Effect.gen(function* () {
        const node = yield* makeP2pNode({ meshKey })
        const member = yield* makeP2pNode({ meshKey })
        const baseline = openFds()
        const peers = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 150 }, () => silentPeer(node, randomBytes(24)))),
        )
        expect(openFds()).toBeGreaterThan(baseline + 150)
        // While they all hold their handshake open: a real member connects and is answered.
        yield* member.dial(node.multiaddrs()[0]!)
        yield* Effect.promise(() => member.node.services.ping.ping(node.peerId))
        yield* Effect.promise(() => Promise.all(peers.map((p) => p.closedAfter)))
        yield* Effect.promise(() => member.node.hangUp(node.peerId))
        yield* Effect.promise(() =>
          waitFor("the node's sockets to be released", () => openFds() <= baseline, 15_000),
        )
        expect(node.node.getConnections()).toEqual([])
      }),
    )
  })
})
