import { Effect, Exit, Scope } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { fileScope } from "../support/fileScope.js"
import { delayRelay, freePort } from "../support/latency.js"
import { eventually, type MeshNode, startNode } from "../support/mesh.js"

/**
 * A peer that goes silent (its cable pulled, not its process stopped) makes every DHT lookup wait
 * on it until the query deadline. With `serveStale`, an observer keeps answering at once from its
 * last lookup while one background lookup refreshes it, and that refresh still lands: a
 * withdrawal made meanwhile shows up. Three real nodes on 127.0.0.1, the silent one behind a relay.
 */
const QUERY_TIMEOUT_MS = 3_000
const CACHE_TTL_MS = 200

let provider: MeshNode
let observer: MeshNode
let silence: () => void
let doomed: MeshNode
let relayPort: number

const { run, scope } = fileScope()

const timed = async <A>(effect: Effect.Effect<A, unknown, Scope.Scope>) => {
  const started = performance.now()
  const value = await run(effect)
  return { value, ms: performance.now() - started }
}

beforeAll(async () => {
  await run(
    Effect.gen(function* () {
      const parent = yield* Effect.scope
      const options = {
        cacheTtlMs: CACHE_TTL_MS,
        queryTimeoutMs: QUERY_TIMEOUT_MS,
        serveStale: true,
      }
      provider = yield* startNode(parent, 0, {}, options)
      const bootstrap = [provider.libp2p.multiaddrs()[0]!.toString()]
      observer = yield* startNode(parent, 1, { bootstrap }, options)
      const relay = yield* delayRelay(1)
      const port = yield* Effect.promise(freePort)
      relay.target(port)
      silence = relay.silence
      relayPort = relay.port
      doomed = yield* startNode(
        parent,
        2,
        {
          bootstrap,
          listen: [`/ip4/127.0.0.1/tcp/${port}`],
          announce: [`/ip4/127.0.0.1/tcp/${relay.port}`],
        },
        options,
      )
      const nodes = [provider, observer, doomed]
      yield* Effect.forEach(nodes, (n) => n.libp2p.join, { discard: true })
      yield* eventually(
        "every routing table to hold both other nodes",
        Effect.sync(() => nodes.map((n) => n.libp2p.routingTableSize())),
        (sizes) => sizes.every((size) => size >= 2),
        { timeoutMs: 60_000 },
      )
    }),
  )
}, 90_000)

describe("resolve with serveStale while a peer is silent", () => {
  it("answers at once from the last lookup, and the background refresh still lands", async () => {
    const child = await run(Scope.fork(scope()))
    await run(
      provider.registry
        .register("shop", "orders", { workload: "orders", pod: "orders-0", ports: [{ port: 80 }] })
        .pipe(Scope.provide(child)),
    )
    await run(
      eventually(
        "the observer to resolve shop/orders",
        observer.registry.resolve("shop", "orders"),
        (rs) => rs.length === 1,
      ),
    )
    silence()
    // The doomed node may have dialled the observer itself: such a direct connection does not go
    // through the relay and would keep answering. Only the relayed, silent path may remain.
    for (const connection of observer.libp2p.node.getConnections(doomed.libp2p.peerId)) {
      if (!connection.remoteAddr.toString().endsWith(`/tcp/${relayPort}`))
        await connection.close().catch(() => connection.abort(new Error("test: direct path cut")))
    }
    // The premise: a lookup now waits on the silent peer.
    const fresh = await timed(observer.registry.resolve("shop", "orders", { fresh: true }))
    expect(fresh.value.length).toBe(1)
    expect(fresh.ms).toBeGreaterThan(1_000)

    // Past the cache's lifetime: the answer comes from the last lookup, without waiting.
    await new Promise((resolve) => setTimeout(resolve, CACHE_TTL_MS * 2))
    const stale = await timed(observer.registry.resolve("shop", "orders"))
    console.log(
      `with a silent peer: fresh lookup ${Math.round(fresh.ms)} ms, stale answer ${stale.ms.toFixed(1)} ms`,
    )
    expect(stale.value.map((r) => r.provider)).toEqual([provider.libp2p.peerId.toString()])
    expect(stale.ms).toBeLessThan(100)

    // A withdrawal meanwhile reaches the observer through the background refreshes.
    await Effect.runPromise(Scope.close(child, Exit.void))
    const after = await run(
      eventually(
        "the observer to see the withdrawal",
        observer.registry.resolve("shop", "orders"),
        (rs) => rs.length === 0,
        { timeoutMs: 30_000, intervalMs: 100 },
      ),
    )
    expect(after).toEqual([])
  }, 90_000)
})
