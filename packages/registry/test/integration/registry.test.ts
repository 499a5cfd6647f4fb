import { Effect, Exit, Scope } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { drain } from "../../src/internal/query.js"
import * as ManifestRecord from "../../src/ManifestRecord.js"
import * as Names from "../../src/Names.js"
import type { EndpointSpec } from "../../src/Registry.js"
import * as ServiceRecord from "../../src/ServiceRecord.js"
import { fileScope } from "../support/fileScope.js"
import { eventually, type MeshNode, rawPut, startMesh, startNode } from "../support/mesh.js"

/**
 * Ten real libp2p nodes (TCP + Noise + Yamux + Kad-DHT) on 127.0.0.1, in this process.
 * Every wait polls with a deadline; every node stops when the suite's scope closes.
 */
const MESH_SIZE = 10
const registryOptions = { cacheTtlMs: 500, queryTimeoutMs: 8_000 }

let mesh: ReadonlyArray<MeshNode>
const node = (i: number) => mesh[i]!

const { run, scope } = fileScope()

beforeAll(async () => {
  mesh = await run(startMesh(MESH_SIZE, { registry: registryOptions }))
}, 110_000)

const endpoint = (pod: string, port = 8080): EndpointSpec => ({
  workload: pod.replace(/-\d+$/, ""),
  pod,
  ports: [{ name: "http", port }],
})

/** Registers in a child scope of the suite: returns the scope so a test can withdraw early. */
const registerOn = (n: MeshNode, namespace: string, service: string, spec: EndpointSpec) =>
  Effect.gen(function* () {
    const child = yield* Scope.fork(scope())
    const registration = yield* n.registry
      .register(namespace, service, spec)
      .pipe(Scope.provide(child))
    return { registration, withdraw: Scope.close(child, Exit.void) }
  })

const providersSeenBy = (n: MeshNode, namespace: string, service: string) =>
  n.registry
    .resolve(namespace, service, { fresh: true })
    .pipe(Effect.map((rs) => rs.map((r) => r.provider).sort()))

const rawGetValues = (n: MeshNode, key: Uint8Array) =>
  drain(
    "get",
    "raw",
    8_000,
    (signal) => n.libp2p.dht.get(key, { signal }),
    [] as Uint8Array[],
    (vs, e) => (e.name === "VALUE" ? [...vs, e.value] : vs),
  ).pipe(Effect.map(({ state }) => state))

describe(`registry on a ${MESH_SIZE}-node mesh`, () => {
  it("a service registered on one node is resolved by every other node", async () => {
    const provider = node(3).libp2p.peerId.toString()
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* registerOn(node(3), "shop", "orders", endpoint("orders-0", 9001))
        yield* Effect.forEach(
          mesh.filter((n) => n.index !== 3),
          (n) =>
            eventually(
              `node ${n.index} to resolve shop/orders`,
              n.registry.resolve("shop", "orders"),
              (rs) => rs.length === 1,
            ).pipe(
              Effect.tap((rs) =>
                Effect.sync(() => {
                  expect(rs[0]!.provider).toBe(provider)
                  expect(rs[0]!.endpoints[0]).toMatchObject({
                    pod: "orders-0",
                    ports: [{ port: 9001 }],
                  })
                  expect(rs[0]!.endpoints[0]!.multiaddrs[0]).toMatch(
                    /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//,
                  )
                }),
              ),
            ),
          { concurrency: "unbounded", discard: true },
        )
      }),
    )
  })

  it("returns every provider of a service, and every local endpoint of each", async () => {
    const expected = [node(1), node(6)].map((n) => n.libp2p.peerId.toString()).sort()
    await Effect.runPromise(
      Effect.gen(function* () {
        yield* registerOn(node(1), "shop", "payments", endpoint("payments-0"))
        yield* registerOn(node(6), "shop", "payments", endpoint("payments-1"))
        const second = yield* registerOn(node(6), "shop", "payments", endpoint("payments-2"))
        for (const observer of [node(8), node(1), node(0)]) {
          const providers = yield* eventually(
            `node ${observer.index} to see both payments providers`,
            providersSeenBy(observer, "shop", "payments"),
            (ps) => ps.length === 2,
          )
          expect(providers).toEqual(expected)
        }
        const records = yield* eventually(
          "node 8 to see both endpoints of node 6",
          node(8).registry.resolve("shop", "payments", { fresh: true }),
          (rs) =>
            rs.find(
              (r) => r.provider === expected.find((p) => p === node(6).libp2p.peerId.toString()),
            )?.endpoints.length === 2,
        )
        expect(records.flatMap((r) => r.endpoints.map((e) => e.pod)).sort()).toEqual([
          "payments-0",
          "payments-1",
          "payments-2",
        ])
        // Withdrawing one endpoint republishes node 6's record without it.
        yield* second.withdraw
        yield* eventually(
          "node 8 to see payments-2 withdrawn",
          node(8).registry.resolve("shop", "payments", { fresh: true }),
          (rs) =>
            rs
              .flatMap((r) => r.endpoints.map((e) => e.pod))
              .sort()
              .join() === "payments-0,payments-1",
        )
      }),
    )
  })

  it("a withdrawn service disappears from resolve on every node", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const reg = yield* registerOn(node(2), "shop", "cart", endpoint("cart-0"))
        yield* eventually(
          "node 7 to resolve shop/cart",
          providersSeenBy(node(7), "shop", "cart"),
          (ps) => ps.length === 1,
        )
        // Node 5 caches the live record before the withdrawal.
        yield* eventually(
          "node 5 to resolve shop/cart",
          node(5).registry.resolve("shop", "cart"),
          (rs) => rs.length === 1,
        )
        yield* reg.withdraw
        yield* Effect.forEach(
          [node(2), node(5), node(7), node(9)],
          (n) =>
            eventually(
              `node ${n.index} to drop shop/cart`,
              n.registry.resolve("shop", "cart"),
              (rs) => rs.length === 0,
            ),
          { concurrency: "unbounded", discard: true },
        )
        // The DHT still holds a value for the key: the tombstone, newer than the live record.
        const values = yield* rawGetValues(
          node(7),
          Names.serviceRecordKey(
            { namespace: "shop", service: "cart" },
            node(2).libp2p.peerId.toString(),
          ),
        )
        const newest = ServiceRecord.peek(values[values.length - 1]!)
        expect(newest !== undefined && ServiceRecord.isTombstone(newest)).toBe(true)
      }),
    )
  })

  it("a stopped provider ages out after its TTL, while its replicas outlive the provider", async () => {
    const ttlMs = 8_000
    await run(
      Effect.gen(function* () {
        const bootstrap = [node(0).libp2p.multiaddrs()[0]!.toString()]
        const doomed = yield* startNode(
          scope(),
          99,
          { bootstrap },
          { ...registryOptions, recordTtlMs: ttlMs },
        )
        yield* eventually(
          "the new node to join the DHT",
          Effect.sync(() => doomed.libp2p.routingTableSize()),
          (n) => n >= 1,
        )
        yield* doomed.registry
          .register("shop", "search", endpoint("search-0"))
          .pipe(Scope.provide(doomed.scope))
        yield* eventually(
          "node 4 to resolve shop/search",
          providersSeenBy(node(4), "shop", "search"),
          (ps) => ps.length === 1,
        )
        // Crash: the libp2p node vanishes without withdrawing anything.
        const stoppedAt = Date.now()
        yield* Effect.promise(async () => doomed.libp2p.node.stop())
        const stillThere = yield* providersSeenBy(node(4), "shop", "search")
        if (Date.now() - stoppedAt < ttlMs / 2) expect(stillThere).toHaveLength(1)
        yield* eventually(
          "node 4 to drop the dead provider",
          providersSeenBy(node(4), "shop", "search"),
          (ps) => ps.length === 0,
          {
            timeoutMs: ttlMs + 15_000,
          },
        )
        expect(Date.now() - stoppedAt).toBeGreaterThan(ttlMs / 4)
        yield* Scope.close(doomed.scope, Exit.void)
      }),
    )
  })

  it("rejects forged records: tampered payload, another peer's key, expired, replayed under another name", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const victim = node(3)
        const mallory = node(9)
        const name = { namespace: "shop", service: "catalog" }
        yield* registerOn(victim, name.namespace, name.service, endpoint("catalog-0", 7000))
        const victimId = victim.libp2p.peerId.toString()
        const victimKey = Names.serviceRecordKey(name, victimId)
        const genuine = yield* eventually(
          "mallory to fetch the genuine record",
          rawGetValues(mallory, victimKey),
          (vs) => vs.length > 0,
        )
        const genuineBytes = genuine[genuine.length - 1]!
        const genuineRecord = ServiceRecord.peek(genuineBytes)!

        // 1. Tampered payload: redirect the port, keep the victim's signature.
        const envelope = JSON.parse(new TextDecoder().decode(genuineBytes))
        const payload = {
          ...genuineRecord,
          sequence: genuineRecord.sequence + 10,
          endpoints: [{ ...genuineRecord.endpoints[0]!, ports: [{ port: 6666 }] }],
        }
        envelope.payload = Buffer.from(JSON.stringify(payload)).toString("base64")
        const tampered = yield* rawPut(
          mallory,
          victimKey,
          new TextEncoder().encode(JSON.stringify(envelope)),
        )

        // 2. Another peer's key: Mallory signs a record naming the victim as provider.
        const impersonation = yield* ServiceRecord.sign(mallory.libp2p.privateKey, payload)
        const impersonated = yield* rawPut(mallory, victimKey, impersonation.bytes)

        // 3. Expired: properly signed by Mallory for herself, but stale; advertised as a provider.
        const malloryId = mallory.libp2p.peerId.toString()
        const stale = yield* ServiceRecord.sign(mallory.libp2p.privateKey, {
          ...payload,
          provider: malloryId,
          issuedAt: Date.now() - 120_000,
          ttlMs: 60_000,
        })
        const expired = yield* rawPut(mallory, Names.serviceRecordKey(name, malloryId), stale.bytes)
        const cid = Names.serviceCid(name)
        yield* drain(
          "provide",
          "raw",
          8_000,
          (signal) => mallory.libp2p.dht.provide(cid, { signal }),
          0,
          (n) => n,
        )

        // 4. Genuine record replayed under another namespace's key.
        const replayed = yield* rawPut(
          mallory,
          Names.serviceRecordKey({ namespace: "other", service: "catalog" }, victimId),
          genuineBytes,
        )

        for (const [what, outcome] of Object.entries({
          tampered,
          impersonated,
          expired,
          replayed,
        })) {
          expect(outcome.accepted, `${what}: accepted by peers`).toBe(0)
          expect(outcome.refused, `${what}: refused by peers`).toBeGreaterThan(0)
        }
        for (const observer of [node(5), node(0), victim]) {
          const records = yield* observer.registry.resolve(name.namespace, name.service, {
            fresh: true,
          })
          expect(records.map((r) => r.provider)).toEqual([victimId])
          expect(records[0]!.endpoints[0]!.ports).toEqual([{ name: "http", port: 7000 }])
          expect(yield* observer.registry.resolve("other", "catalog", { fresh: true })).toEqual([])
        }
      }),
    )
  })

  it("rejects hostile names with a clear error", async () => {
    const cases: Array<[string, string, string]> = [
      ["shop/../admin", "orders", "namespace"],
      ["shop", "../orders", "service"],
      ["shop", "Orders", "service"],
      ["", "orders", "namespace"],
      ["shop", "x".repeat(64), "service"],
    ]
    for (const [namespace, service, field] of cases) {
      const resolveError = await Effect.runPromise(
        Effect.flip(node(0).registry.resolve(namespace, service)),
      )
      expect(resolveError._tag).toBe("InvalidName")
      expect(resolveError.message).toContain(`invalid ${field}`)
      expect(resolveError.message).toContain("DNS-1123")
      const registerError = await run(
        Effect.flip(node(0).registry.register(namespace, service, endpoint("p-0"))),
      )
      expect(registerError._tag).toBe("InvalidName")
    }
    const badPod = await run(
      Effect.flip(node(0).registry.register("shop", "orders", { ...endpoint("p-0"), pod: "a/b" })),
    )
    expect(badPod.message).toContain('invalid pod "a/b"')
  })

  it("stores manifests; the newest version wins everywhere", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const v1 = yield* node(1).registry.putManifest("shop", "web", "kind: Pod\nversion: 1")
        const seenV1 = yield* eventually(
          "node 9 to get manifest v1",
          node(9).registry.getManifest("shop", "web").pipe(Effect.option),
          (m) => m._tag === "Some",
        )
        expect(seenV1._tag === "Some" && seenV1.value.content).toBe(v1.content)
        const v2 = yield* node(5).registry.putManifest("shop", "web", "kind: Pod\nversion: 2")
        expect(v2.sequence).toBeGreaterThan(v1.sequence)
        for (const observer of [node(9), node(1), node(7)]) {
          const got = yield* eventually(
            `node ${observer.index} to get manifest v2`,
            observer.registry.getManifest("shop", "web"),
            (m) => m.sequence === v2.sequence,
          )
          expect(got.content).toBe("kind: Pod\nversion: 2")
          expect(got.publisher).toBe(node(5).libp2p.peerId.toString())
        }
        const missing = yield* Effect.flip(node(2).registry.getManifest("shop", "nope"))
        expect(missing._tag).toBe("ManifestNotFound")
      }),
    )
  })

  it("manifest sequence games: a record with sequence 2^53 is refused by every peer, and the operator's next version wins", async () => {
    await Effect.runPromise(
      Effect.gen(function* () {
        const mallory = node(8)
        const key = Names.manifestKey("shop", "locked")
        const signed = yield* ManifestRecord.sign(mallory.libp2p.privateKey, {
          kind: "beemesh.manifest/v1",
          namespace: "shop",
          name: "locked",
          publisher: mallory.libp2p.peerId.toString(),
          issuedAt: Date.now(),
          sequence: 2 ** 53 - 1,
          ttlMs: 60_000,
          content: "kind: Pod\nowner: mallory",
        })
        const outcome = yield* rawPut(mallory, key, signed)
        expect(outcome.accepted, "accepted by peers").toBe(0)
        expect(outcome.refused, "refused by peers").toBeGreaterThan(0)
        const mine = yield* node(2).registry.putManifest("shop", "locked", "kind: Pod\nowner: ops")
        expect(mine.sequence).toBeLessThan(Date.now() + ManifestRecord.MAX_CLOCK_SKEW_MS)
        for (const observer of [node(4), node(8), node(2)]) {
          const got = yield* eventually(
            `node ${observer.index} to get the operator's manifest`,
            observer.registry.getManifest("shop", "locked").pipe(Effect.option),
            (m) => m._tag === "Some" && m.value.sequence === mine.sequence,
          )
          expect(got._tag === "Some" && got.value.content).toBe("kind: Pod\nowner: ops")
        }
      }),
    )
  })
})
