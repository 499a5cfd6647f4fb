import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { Registration } from "../../src/Registry.js"
import { fileScope } from "../support/fileScope.js"
import { countWalks, eventually, type MeshNode, startMesh, startNode } from "../support/mesh.js"

/**
 * How often a provider announces itself (a provide walk) while its signed record is re-put at
 * every refresh. Real libp2p nodes (TCP + Noise + Yamux + Kad-DHT) on 127.0.0.1, in this process:
 * a mesh larger than kad-dht's k (20), so an announcement can reach k peers, and a 3-node mesh,
 * where it cannot. Each provider's `dht.provide` is wrapped to count the walks it starts.
 */
const MESH_SIZE = 24
const TTL_MS = 3_000 // refresh every second
const registryOptions = { recordTtlMs: TTL_MS, cacheTtlMs: 0, queryTimeoutMs: 8_000 }

let mesh: ReadonlyArray<MeshNode>
const { run } = fileScope()

beforeAll(async () => {
  mesh = await run(startMesh(MESH_SIZE, { registry: registryOptions, minRoutingTable: 20 }))
}, 150_000)

/** Registers, then waits until the registration has been re-published `refreshes` times. */
const registerAndWatch = (n: MeshNode, service: string, refreshes: number) =>
  Effect.gen(function* () {
    const registration: Registration = yield* n.registry.register("shop", service, {
      workload: service,
      pod: `${service}-0`,
      ports: [{ port: 8080 }],
    })
    const seen = new Set<number>()
    yield* eventually(
      `${refreshes} refreshes of shop/${service}`,
      Effect.sync(() => {
        const sequence = registration.current()?.sequence
        if (sequence !== undefined) seen.add(sequence)
        return seen.size
      }),
      (size) => size > refreshes,
      { timeoutMs: 30_000, intervalMs: 50 },
    )
  })

const resolvedBy = (observer: MeshNode, service: string) =>
  observer.registry
    .resolve("shop", service, { fresh: true })
    .pipe(Effect.map((rs) => rs.map((r) => r.provider)))

describe("provider announcements", () => {
  it(`reach k peers once and are not repeated at every refresh (${MESH_SIZE} nodes)`, async () => {
    const provider = mesh[5]!
    const walks = countWalks(provider, "provide", "orders")
    await run(registerAndWatch(provider, "orders", 4))
    expect(walks.walks).toBe(1)
    // The record re-put at each refresh is found through that one announcement.
    expect(await run(resolvedBy(mesh[17]!, "orders"))).toEqual([provider.libp2p.peerId.toString()])
  }, 60_000)

  it("are repeated once provideIntervalMs has passed", async () => {
    const late = await run(
      Effect.gen(function* () {
        const node = yield* startNode(
          yield* Effect.scope,
          MESH_SIZE,
          { bootstrap: [mesh[0]!.libp2p.multiaddrs()[0]!.toString()] },
          { ...registryOptions, provideIntervalMs: 2_500 },
        )
        yield* node.libp2p.join
        yield* eventually(
          "the new node's routing table to hold 20 peers",
          Effect.sync(() => node.libp2p.routingTableSize()),
          (size) => size >= 20,
          { timeoutMs: 30_000 },
        )
        return node
      }),
    )
    const walks = countWalks(late, "provide", "cart")
    const started = Date.now()
    await run(registerAndWatch(late, "cart", 6))
    const elapsedMs = Date.now() - started
    // One at registration, one per 2.5 s after it (at the first refresh past each interval).
    expect(walks.walks).toBeGreaterThanOrEqual(2)
    expect(walks.walks).toBeLessThanOrEqual(1 + Math.floor(elapsedMs / 2_500))
    expect(await run(resolvedBy(mesh[9]!, "cart"))).toEqual([late.libp2p.peerId.toString()])
  }, 90_000)

  it("are repeated at every refresh while they reach fewer than k peers (3 nodes)", async () => {
    const small = await run(startMesh(3, { registry: registryOptions }))
    const provider = small[1]!
    const walks = countWalks(provider, "provide", "stock")
    await run(registerAndWatch(provider, "stock", 3))
    expect(walks.walks).toBeGreaterThanOrEqual(3)
    expect(await run(resolvedBy(small[2]!, "stock"))).toEqual([provider.libp2p.peerId.toString()])
  }, 90_000)
})
