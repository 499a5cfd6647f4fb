import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { fileScope } from "../support/fileScope.js"
import { eventually, type MeshNode, startNode } from "../support/mesh.js"

/**
 * A node whose join met only its bootstrap peer joins again, and does not wait for kad-dht's
 * next self-query (5 min). Real libp2p nodes (TCP + Noise + Yamux + Kad-DHT) on 127.0.0.1, in this
 * process: the bootstrap peer B knows nobody when N joins through it; C meets B only afterwards,
 * and nobody tells N about C, so only N asking B again finds C.
 */
const { run } = fileScope()

describe("joining", () => {
  it("a node whose join found only its bootstrap peer joins again and finds the peers met later", async () => {
    await run(
      Effect.gen(function* () {
        const parent = yield* Effect.scope
        const b: MeshNode = yield* startNode(parent, 0, {}, {})
        const n = yield* startNode(
          parent,
          1,
          { bootstrap: [b.libp2p.multiaddrs()[0]!.toString()] },
          {},
        )
        yield* eventually(
          "N's routing table to hold B",
          Effect.sync(() => n.libp2p.routingTableSize()),
          (size) => size >= 1,
          { timeoutMs: 10_000, intervalMs: 50 },
        )
        // C's own first self-query (1 s after its start) runs while it knows nobody.
        const c = yield* startNode(parent, 2, {}, {})
        yield* Effect.sleep("1500 millis")
        yield* b.libp2p.dial(c.libp2p.multiaddrs()[0]!.toString())
        yield* eventually(
          "B's routing table to hold C",
          Effect.sync(() => b.libp2p.routingTableSize()),
          (size) => size >= 2,
          { timeoutMs: 10_000 },
        )
        // N rejoins 2 s, then 4 s, 8 s … after its start: well within 20 s.
        yield* eventually(
          "N's routing table to hold C",
          Effect.sync(() => n.libp2p.routingTableSize()),
          (size) => size >= 2,
          { timeoutMs: 20_000 },
        )
        expect(n.libp2p.node.getConnections(c.libp2p.peerId).length).toBeGreaterThan(0)
      }),
    )
  }, 60_000)
})
