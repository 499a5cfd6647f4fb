import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Exit, Scope } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import type { CatalogRejection } from "../../src/Catalog.js"
import type { EndpointSpec } from "../../src/Registry.js"
import * as ServiceRecord from "../../src/ServiceRecord.js"
import { fileScope } from "../support/fileScope.js"
import { certifiedAgents, type TestAuthority } from "../support/membership.js"
import { eventually, type MeshNode, startMesh, startNode } from "../support/mesh.js"

/**
 * Eight member agents certified by one mesh authority and a rogue (a fresh key, no certificate)
 * on 127.0.0.1, every one running the replicated catalog (gossipsub + sync). The test also holds
 * the keys of three more certified agents that are not nodes of the mesh at first: one it
 * revokes, one that floods, and a late joiner.
 */
const MEMBERS = 8
const ROGUE = MEMBERS
const REVOKED = MEMBERS
const FLOODER = MEMBERS + 1
const LATE = MEMBERS + 2
/** Records one signer may keep in this mesh's catalogs (small, so a flood is cheap to test). */
const QUOTA = 6

let mesh: ReadonlyArray<MeshNode>
let agents: TestAuthority
const rejections: Array<CatalogRejection & { readonly at: number }> = []
const node = (i: number) => mesh[i]!
const members = () => mesh.slice(0, MEMBERS)
const catalogOf = (n: MeshNode) => n.catalog!

const { run } = fileScope()

const catalog = { quota: { maxRecords: QUOTA, maxBytes: 1 << 20 }, syncIntervalMs: 60_000 }

beforeAll(async () => {
  agents = await Effect.runPromise(certifiedAgents(MEMBERS + 3))
  mesh = await run(
    startMesh(MEMBERS + 1, {
      registry: { cacheTtlMs: 60_000, queryTimeoutMs: 8_000 },
      catalog,
      perNode: (i) =>
        i < MEMBERS
          ? { privateKey: agents.keys[i]!, provenance: agents.membership(i) }
          : // The rogue claims the mesh's authority (so it gossips on the mesh's topic) but holds
            // no certificate from it.
            { provenance: { authority: agents.authority, certificate: () => "bmc1.none.none" } },
    }),
  )
  for (const n of members()) catalogOf(n).onRejected((r) => rejections.push({ ...r, at: n.index }))
}, 110_000)

const endpoint = (pod: string): EndpointSpec => ({
  workload: pod.replace(/-\d+$/, ""),
  pod,
  ports: [{ port: 8080 }],
})

const holders = (service: string) =>
  Effect.sync(() =>
    members().filter((n) => catalogOf(n).lookup("shop", service, Date.now()).length > 0),
  )

/** A record signed by `key` (as its provider), with `certificate` if given. */
const recordBy = (
  key: PrivateKey,
  service: string,
  certificate: string | undefined,
  multiaddrs: ReadonlyArray<string> = [],
) =>
  ServiceRecord.sign(key, {
    kind: "beemesh.service/v1",
    namespace: "shop",
    service,
    provider: peerIdFromPrivateKey(key).toString(),
    issuedAt: Date.now(),
    ttlMs: 60_000,
    sequence: Date.now(),
    endpoints: [
      { workload: "evil", pod: "evil-0", multiaddrs: [...multiaddrs], ports: [{ port: 80 }] },
    ],
    ...(certificate === undefined ? {} : { certificate }),
  }).pipe(Effect.map((signed) => signed.bytes))

const rogueId = () => node(ROGUE).libp2p.peerId.toString()

/** The rogue sends `bytes` to every peer it has on the catalog topic. */
const roguePublish = (bytes: Uint8Array) =>
  Effect.promise(() => node(ROGUE).libp2p.pubsub!.publish(catalogOf(node(ROGUE)).topic, bytes))

describe("replicated service catalog over gossipsub (8 member agents, 1 rogue)", () => {
  it("a record registered at one agent is in every agent's catalog within 1 s, and resolves there", async () => {
    await run(
      Effect.gen(function* () {
        const arrivals = new Map<number, number>()
        const stops = members().map((n) =>
          catalogOf(n).onStored((record) => {
            if (record.service === "orders" && !arrivals.has(n.index))
              arrivals.set(n.index, performance.now())
          }),
        )
        const started = performance.now()
        yield* node(3).registry.register("shop", "orders", endpoint("orders-0"))
        const registeredMs = performance.now() - started
        yield* eventually(
          "every member's catalog to hold shop/orders",
          holders("orders"),
          (found) => found.length === MEMBERS,
          { timeoutMs: 5_000, intervalMs: 10 },
        )
        for (const stop of stops) stop()
        const slowest = Math.max(...arrivals.values()) - started
        expect(arrivals.size).toBe(MEMBERS)
        expect(slowest).toBeLessThan(1_000)
        // Registration waits for the local insert and the gossip publish, not for the DHT.
        expect(registeredMs).toBeLessThan(1_000)
        for (const n of members()) {
          const records = yield* n.registry.resolve("shop", "orders")
          expect(records.map((r) => r.provider)).toEqual([agents.peerIds[3]])
        }
      }),
    )
  })

  it("a withdrawal (scope closed) removes the provider from every catalog within 1 s", async () => {
    await run(
      Effect.gen(function* () {
        const registration = yield* Scope.make()
        yield* node(5)
          .registry.register("shop", "carts", endpoint("carts-0"))
          .pipe(Scope.provide(registration))
        yield* eventually(
          "every catalog to hold shop/carts",
          holders("carts"),
          (found) => found.length === MEMBERS,
        )
        const started = performance.now()
        yield* Scope.close(registration, Exit.void)
        yield* eventually(
          "no catalog to hold shop/carts",
          holders("carts"),
          (found) => found.length === 0,
          { timeoutMs: 5_000, intervalMs: 10 },
        )
        expect(performance.now() - started).toBeLessThan(1_000)
      }),
    )
  })

  it("refuses the rogue's uncertified, foreign, revoked and oversize records; nobody stores or forwards them", async () => {
    await run(
      Effect.gen(function* () {
        const before = rejections.length
        const foreign = yield* certifiedAgents(1)
        agents.revoke(agents.peerIds[REVOKED]!)
        const bad: Array<[string, Uint8Array]> = [
          ["uncertified", yield* recordBy(node(ROGUE).libp2p.privateKey, "evil-a", undefined)],
          [
            "foreign-authority",
            yield* recordBy(foreign.keys[0]!, "evil-b", foreign.certificates[0]),
          ],
          [
            "revoked",
            yield* recordBy(agents.keys[REVOKED]!, "evil-c", agents.certificates[REVOKED]),
          ],
        ]
        // Valid signature and certificate, but past the size every verifier allows.
        const oversize = new Uint8Array(ServiceRecord.MAX_BYTES + 200).fill(0x20)
        bad.push(["oversize", oversize])
        for (const [, bytes] of bad) yield* roguePublish(bytes)
        yield* eventually(
          "members to refuse all four records",
          Effect.sync(() => new Set(rejections.slice(before).map((r) => r.error.reason))),
          (reasons) =>
            ["uncertified", "foreign-authority", "revoked", "oversize"].every((r) =>
              reasons.has(r as never),
            ),
          { timeoutMs: 5_000, intervalMs: 20 },
        )
        // Give forwarding (if any) time to happen, then check nobody took or passed anything on.
        yield* Effect.sleep(500)
        for (const service of ["evil-a", "evil-b", "evil-c"]) {
          expect((yield* holders(service)).map((n) => n.index)).toEqual([])
        }
        const sources = new Set(rejections.slice(before).map((r) => r.from))
        expect([...sources]).toEqual([rogueId()])
        // The rogue paid for it in gossipsub score wherever it delivered.
        // (gossipsub caches a score for one heartbeat, a second).
        const receivers = [...new Set(rejections.slice(before).map((r) => r.at))]
        const scores = yield* eventually(
          "the rogue's score to fall below zero at every member it sent to",
          Effect.sync(() =>
            receivers.map((i) =>
              (node(i).libp2p.pubsub as unknown as { getScore(peer: string): number }).getScore(
                rogueId(),
              ),
            ),
          ),
          (found) => found.every((score) => score < 0),
          { timeoutMs: 5_000, intervalMs: 100 },
        )
        expect(scores.length).toBeGreaterThan(0)
      }),
    )
  })

  it("a certified agent flooding records is held to its quota on every agent", async () => {
    await run(
      Effect.gen(function* () {
        const before = rejections.length
        // The flooder is a node of its own: the rogue is graylisted by now, and is ignored.
        const flooder = yield* startNode(
          yield* Effect.scope,
          FLOODER,
          {
            privateKey: agents.keys[FLOODER]!,
            provenance: agents.membership(FLOODER),
            bootstrap: members().map((n) => n.libp2p.multiaddrs()[0]!.toString()),
          },
          {},
          catalog,
        )
        const topic = catalogOf(flooder).topic
        // A member lists the flooder as a subscriber once the flooder's stream to it is open
        // (its subscription came on that stream); gossip sent earlier would be dropped.
        yield* eventually(
          "every member to see the flooder on the catalog topic",
          Effect.sync(
            () =>
              members().filter((n) =>
                n.libp2p.pubsub!.getSubscribers(topic).some((p) => p.equals(flooder.libp2p.peerId)),
              ).length,
          ),
          (n) => n === MEMBERS,
          { timeoutMs: 10_000, intervalMs: 20 },
        )
        for (let i = 0; i < QUOTA * 3; i++) {
          const bytes = yield* recordBy(
            agents.keys[FLOODER]!,
            `flood-${i}`,
            agents.certificates[FLOODER],
          )
          yield* Effect.promise(() => flooder.libp2p.pubsub!.publish(topic, bytes))
        }
        yield* eventually(
          "every member to refuse the flood beyond the quota",
          Effect.sync(
            () =>
              new Set(
                rejections
                  .slice(before)
                  .filter((r) => r.error.reason === "over-quota")
                  .map((r) => r.at),
              ),
          ),
          (refusers) => refusers.size === MEMBERS,
          { timeoutMs: 5_000, intervalMs: 20 },
        )
        yield* Effect.sleep(300)
        for (const n of members()) {
          const held = Array.from({ length: QUOTA * 3 }, (_, i) => `flood-${i}`).filter(
            (service) => catalogOf(n).lookup("shop", service, Date.now()).length > 0,
          )
          expect(held.length).toBe(QUOTA)
        }
      }),
    )
  })

  it("an agent that joins late gets the whole catalog from its peers, without any new publish", async () => {
    await run(
      Effect.gen(function* () {
        yield* node(1).registry.register("shop", "payments", endpoint("payments-0"))
        yield* node(2).registry.register("shop", "payments", endpoint("payments-1"))
        yield* eventually(
          "every catalog to hold both payments providers",
          holders("payments"),
          (found) =>
            found.every((n) => catalogOf(n).lookup("shop", "payments", Date.now()).length === 2) &&
            found.length === MEMBERS,
        )
        const late = yield* startNode(
          yield* Effect.scope,
          LATE,
          {
            privateKey: agents.keys[LATE]!,
            provenance: agents.membership(LATE),
            bootstrap: [node(0).libp2p.multiaddrs()[0]!.toString()],
          },
          { cacheTtlMs: 60_000, queryTimeoutMs: 8_000 },
          catalog,
        )
        const started = performance.now()
        const found = yield* eventually(
          "the late joiner's catalog to hold orders and both payments providers",
          Effect.sync(() => ({
            orders: catalogOf(late).lookup("shop", "orders", Date.now()).length,
            payments: catalogOf(late).lookup("shop", "payments", Date.now()).length,
            syncs: catalogOf(late).stats().syncs,
          })),
          (f) => f.orders === 1 && f.payments === 2 && f.syncs > 0,
          { timeoutMs: 10_000, intervalMs: 20 },
        )
        expect(found).toMatchObject({ orders: 1, payments: 2 })
        // Well before any registration's refresh (every 20 s) could have carried it.
        expect(performance.now() - started).toBeLessThan(5_000)
        const resolved = yield* late.registry.resolve("shop", "payments")
        expect(resolved.map((r) => r.provider).sort()).toEqual(
          [agents.peerIds[1]!, agents.peerIds[2]!].sort(),
        )
      }),
    )
  })
})
