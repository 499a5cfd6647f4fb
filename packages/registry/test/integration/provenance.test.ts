import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as ManifestRecord from "../../src/ManifestRecord.js"
import * as Names from "../../src/Names.js"
import type { EndpointSpec } from "../../src/Registry.js"
import * as ServiceRecord from "../../src/ServiceRecord.js"
import { fileScope } from "../support/fileScope.js"
import { certifiedAgents, type TestAuthority } from "../support/membership.js"
import { eventually, type MeshNode, rawPut, startMesh } from "../support/mesh.js"

/**
 * Five real libp2p nodes on 127.0.0.1: four member agents certified by one mesh authority, and a
 * rogue (a fresh key, no certificate, no membership of its own) that reached the DHT (kad-dht
 * itself is not gated by certificates). Every member runs the membership's validators.
 */
const MEMBERS = 4
const ROGUE = MEMBERS

let mesh: ReadonlyArray<MeshNode>
let agents: TestAuthority
const node = (i: number) => mesh[i]!
const members = () => mesh.slice(0, MEMBERS)

const { run } = fileScope()

beforeAll(async () => {
  agents = await Effect.runPromise(certifiedAgents(MEMBERS))
  mesh = await run(
    startMesh(MEMBERS + 1, {
      registry: { cacheTtlMs: 60_000, queryTimeoutMs: 8_000 },
      perNode: (i) =>
        i < MEMBERS ? { privateKey: agents.keys[i]!, provenance: agents.membership(i) } : {},
    }),
  )
}, 110_000)

const endpoint = (pod: string): EndpointSpec => ({
  workload: pod.replace(/-\d+$/, ""),
  pod,
  ports: [{ port: 8080 }],
})

const providers = (n: MeshNode, service: string, fresh = true) =>
  n.registry
    .resolve("shop", service, { fresh })
    .pipe(Effect.map((records) => records.map((r) => r.provider).sort()))

/** The rogue's service record: a valid envelope signed by its own key, optionally a certificate. */
const rogueRecord = (service: string, certificate?: string) =>
  ServiceRecord.sign(node(ROGUE).libp2p.privateKey, {
    kind: "beemesh.service/v1",
    namespace: "shop",
    service,
    provider: node(ROGUE).libp2p.peerId.toString(),
    issuedAt: Date.now(),
    ttlMs: 60_000,
    sequence: Date.now(),
    endpoints: [{ workload: "evil", pod: "evil-0", multiaddrs: [], ports: [{ port: 8080 }] }],
    ...(certificate === undefined ? {} : { certificate }),
  })

describe("record provenance in a real 5-node DHT (4 member agents, 1 rogue)", () => {
  it("a member's records carry its certificate and resolve on every member, as before", async () => {
    await run(
      Effect.gen(function* () {
        const registration = yield* node(0).registry.register("shop", "orders", endpoint("o-0"))
        yield* node(1).registry.register("shop", "orders", endpoint("o-1"))
        expect(registration.current()?.certificate).toBe(agents.certificates[0])
        const expected = [agents.peerIds[0]!, agents.peerIds[1]!].sort()
        for (const observer of members()) {
          yield* eventually(
            `member ${observer.index} to resolve both member providers`,
            providers(observer, "orders"),
            (found) => JSON.stringify(found) === JSON.stringify(expected),
          )
        }
      }),
    )
  }, 90_000)

  it("a rogue provider (fresh key, valid envelope) is refused by every member and never resolved", async () => {
    await run(
      Effect.gen(function* () {
        const rogue = node(ROGUE)
        yield* node(2).registry.register("shop", "cart", endpoint("cart-0"))
        // Without a certificate, and with a member's certificate copied into its record.
        for (const certificate of [undefined, agents.certificates[2]]) {
          const signed = yield* rogueRecord("cart", certificate)
          const outcome = yield* rawPut(
            rogue,
            Names.serviceRecordKey(
              { namespace: "shop", service: "cart" },
              rogue.libp2p.peerId.toString(),
            ),
            signed.bytes,
          )
          expect(outcome.accepted, "members that stored the rogue's record").toBe(0)
          expect(outcome.refused, "members that refused it").toBeGreaterThanOrEqual(MEMBERS - 1)
        }
        // The rogue also announces itself as a provider (provider records are not gated) and
        // keeps its record in its own store, which it serves in GET answers: members still refuse it.
        const cid = Names.serviceCid({ namespace: "shop", service: "cart" })
        yield* Effect.promise(async () => {
          for await (const _ of rogue.libp2p.dht.provide(cid, {
            signal: AbortSignal.timeout(8_000),
          })) {
            // drained
          }
        }).pipe(Effect.ignore)
        for (const observer of members()) {
          const found = yield* eventually(
            `member ${observer.index} to resolve the member provider of cart`,
            providers(observer, "cart"),
            (found) => found.length > 0,
          )
          expect(found, `member ${observer.index} resolves`).toEqual([agents.peerIds[2]])
        }
        // The rogue's own registry publish is refused by every member (a refusing peer resets
        // the stream: kad-dht does not send the validator's reason back to the putter).
        const refused = yield* Effect.flip(
          rogue.registry.register("shop", "pay", endpoint("pay-0")),
        )
        expect(refused._tag).toBe("PublishRejected")
        expect(refused._tag === "PublishRejected" && refused.rejections).toBeGreaterThanOrEqual(
          MEMBERS - 1,
        )
      }),
    )
  }, 90_000)

  it("manifests: a member's version is read everywhere, the rogue's is refused by every member", async () => {
    await run(
      Effect.gen(function* () {
        const mine = yield* node(3).registry.putManifest("shop", "web", "kind: Pod")
        expect(mine.certificate).toBe(agents.certificates[3])
        const rogue = node(ROGUE)
        const forged = yield* ManifestRecord.sign(rogue.libp2p.privateKey, {
          kind: "beemesh.manifest/v1",
          namespace: "shop",
          name: "web",
          publisher: rogue.libp2p.peerId.toString(),
          issuedAt: Date.now(),
          sequence: Date.now(),
          ttlMs: 60_000,
          content: "kind: Pod\nowner: rogue",
        })
        const outcome = yield* rawPut(rogue, Names.manifestKey("shop", "web"), forged)
        expect(outcome.accepted).toBe(0)
        for (const observer of members()) {
          const got = yield* eventually(
            `member ${observer.index} to read the member's manifest`,
            observer.registry.getManifest("shop", "web").pipe(Effect.option),
            (m) => m._tag === "Some",
          )
          expect(got._tag === "Some" && got.value.content).toBe("kind: Pod")
        }
      }),
    )
  }, 90_000)

  it("a revoked agent's records vanish from resolve as soon as the list changes, cached answers too", async () => {
    await run(
      Effect.gen(function* () {
        const both = [agents.peerIds[0]!, agents.peerIds[1]!].sort()
        // Every member has a cached answer listing both providers of orders.
        for (const observer of members()) {
          yield* eventually(
            `member ${observer.index} to resolve both providers of orders`,
            providers(observer, "orders"),
            (found) => JSON.stringify(found) === JSON.stringify(both),
          )
        }
        agents.revoke(agents.peerIds[1]!)
        for (const observer of members()) {
          // The cached answer (cache TTL 60 s) is re-checked against the new list.
          expect(yield* providers(observer, "orders", false)).toEqual([agents.peerIds[0]])
          // A fresh lookup refuses the revoked agent's record in every GET answer.
          expect(yield* providers(observer, "orders", true)).toEqual([agents.peerIds[0]])
        }
        // The revoked agent cannot publish any more: it checks its own certificate first.
        const refused = yield* Effect.flip(
          node(1).registry.register("shop", "orders", endpoint("o-2")),
        )
        expect(refused._tag).toBe("RecordRejected")
        expect(refused._tag === "RecordRejected" && refused.reason).toBe("revoked")
      }),
    )
  }, 90_000)
})
