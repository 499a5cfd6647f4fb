import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { fileScope } from "../support/fileScope.js"
import { countWalks, type MeshNode, startMesh, startNode } from "../support/mesh.js"

/**
 * Resolves of a service nobody provides, on the DHT (no catalog): the empty answer is reused for
 * `emptyCacheMs`, and resolves arriving while a lookup is under way share it. Real libp2p nodes
 * (TCP + Noise + Yamux + Kad-DHT) on 127.0.0.1, in this process; the resolving node's
 * `dht.findProviders` is wrapped to count the walks it starts.
 */
const EMPTY_CACHE_MS = 1_500
const registryOptions = { cacheTtlMs: 0, emptyCacheMs: EMPTY_CACHE_MS, queryTimeoutMs: 8_000 }

let mesh: ReadonlyArray<MeshNode>
const { run, scope } = fileScope()

beforeAll(async () => {
  mesh = await run(startMesh(4, { registry: registryOptions }))
}, 60_000)

const resolve = (n: MeshNode, service: string) => n.registry.resolve("shop", service)

describe("empty answers", () => {
  it("a service nobody provides: one walk per window, however often it is asked", async () => {
    const asker = mesh[3]!
    const counter = countWalks(asker, "findProviders", "absent")
    const started = Date.now()
    for (let i = 0; i < 20; i++) expect(await run(resolve(asker, "absent"))).toEqual([])
    // Twenty resolves well inside the window (each is a cache hit after the first walk).
    expect(Date.now() - started).toBeLessThan(EMPTY_CACHE_MS)
    expect(counter.walks).toBe(1)
    await new Promise((r) => setTimeout(r, EMPTY_CACHE_MS + 100))
    expect(await run(resolve(asker, "absent"))).toEqual([])
    expect(counter.walks).toBe(2)
  }, 30_000)

  it("resolves that arrive together share one walk", async () => {
    const asker = mesh[2]!
    const counter = countWalks(asker, "findProviders", "burst")
    const answers = await run(
      Effect.all(
        Array.from({ length: 20 }, () => resolve(asker, "burst")),
        { concurrency: "unbounded" },
      ),
    )
    expect(answers).toEqual(Array.from({ length: 20 }, () => []))
    expect(counter.walks).toBe(1)
  }, 30_000)

  it("a registration on the asking node is answered at once after an empty answer", async () => {
    const node = mesh[1]!
    expect(await run(resolve(node, "late"))).toEqual([])
    await run(
      node.registry.register("shop", "late", {
        workload: "late",
        pod: "late-0",
        ports: [{ port: 80 }],
      }),
    )
    const found = await run(resolve(node, "late"))
    expect(found.map((r) => r.provider)).toEqual([node.libp2p.peerId.toString()])
  }, 30_000)

  it("with emptyCacheMs 0 every resolve walks", async () => {
    const node = await run(
      startNode(
        scope(),
        9,
        { bootstrap: [mesh[0]!.libp2p.multiaddrs()[0]!.toString()] },
        { ...registryOptions, emptyCacheMs: 0 },
      ),
    )
    const counter = countWalks(node, "findProviders", "uncached")
    for (let i = 0; i < 3; i++) expect(await run(resolve(node, "uncached"))).toEqual([])
    expect(counter.walks).toBe(3)
  }, 30_000)
})
