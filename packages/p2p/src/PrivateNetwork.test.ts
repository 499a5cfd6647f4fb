import { Effect, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { generateMeshKey } from "./MeshKey.js"
import { makeP2pNode, type P2pNode } from "./P2pNode.js"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

/** Whether `node` has any connection to, or has stored anything about, `other`. */
const knows = (node: P2pNode, other: P2pNode) =>
  Effect.promise(async () => ({
    connected: node.node.getConnections(other.peerId).length > 0,
    stored: await node.node.peerStore.has(other.peerId),
  }))

describe("private network (mesh key)", () => {
  it("members holding the same key connect and ping each other", async () => {
    const meshKey = generateMeshKey()
    await run(
      Effect.gen(function* () {
        const a = yield* makeP2pNode({ meshKey })
        const b = yield* makeP2pNode({ meshKey })
        const remote = yield* a.dial(b.multiaddrs()[0]!)
        expect(remote.equals(b.peerId)).toBe(true)
        yield* Effect.promise(() => a.node.services.ping.ping(b.peerId))
      }),
    )
  })

  it("a fresh identity without the key cannot complete a connection in either direction, and nothing about it is stored", async () => {
    await run(
      Effect.gen(function* () {
        const member = yield* makeP2pNode({ meshKey: generateMeshKey(), dialTimeoutMs: 3_000 })
        const stranger = yield* makeP2pNode({ dialTimeoutMs: 3_000 })
        const inbound = yield* Effect.flip(stranger.dial(member.multiaddrs()[0]!))
        expect(inbound._tag).toBe("DialFailed")
        // The member learned nothing from the attempt: no connection, no peer store entry.
        expect(yield* knows(member, stranger)).toEqual({ connected: false, stored: false })
        const outbound = yield* Effect.flip(member.dial(stranger.multiaddrs()[0]!))
        expect(outbound._tag).toBe("DialFailed")
        expect(member.node.getConnections()).toEqual([])
      }),
    )
  })

  it("a peer holding another mesh's key is refused the same way", async () => {
    await run(
      Effect.gen(function* () {
        const member = yield* makeP2pNode({ meshKey: generateMeshKey(), dialTimeoutMs: 3_000 })
        const other = yield* makeP2pNode({ meshKey: generateMeshKey(), dialTimeoutMs: 3_000 })
        const error = yield* Effect.flip(other.dial(member.multiaddrs()[0]!))
        expect(error._tag).toBe("DialFailed")
        expect(yield* knows(member, other)).toEqual({ connected: false, stored: false })
      }),
    )
  })

  it("rotation: a node restarted with the new key reaches members that moved to it, and no longer those still on the old one", async () => {
    const oldKey = generateMeshKey()
    const newKey = generateMeshKey()
    await run(
      Effect.gen(function* () {
        const movedFirst = yield* makeP2pNode({ meshKey: newKey, dialTimeoutMs: 3_000 })
        const notYet = yield* makeP2pNode({ meshKey: oldKey, dialTimeoutMs: 3_000 })
        const rotated = yield* makeP2pNode({ meshKey: newKey, dialTimeoutMs: 3_000 })
        yield* rotated.dial(movedFirst.multiaddrs()[0]!)
        const stale = yield* Effect.flip(rotated.dial(notYet.multiaddrs()[0]!))
        expect(stale._tag).toBe("DialFailed")
      }),
    )
  })
})
