import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as ManifestRecord from "../../src/ManifestRecord.js"
import * as Names from "../../src/Names.js"
import { eventually, rawPut, startMesh } from "../support/mesh.js"

describe("a record flood from one member (real 3-node DHT)", () => {
  it("each node keeps at most the signer's quota of records; other signers' puts still land", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const mesh = yield* startMesh(3, {
            node: { signerQuota: { maxRecords: 4, maxBytes: 1024 * 1024 } },
            registry: { queryTimeoutMs: 8_000 },
          })
          const mallory = mesh[2]!
          const outcomes: Array<{ accepted: number; refused: number }> = []
          for (let i = 0; i < 8; i++) {
            const signed = yield* ManifestRecord.sign(mallory.libp2p.privateKey, {
              kind: "beemesh.manifest/v1",
              namespace: "flood",
              name: `m${i}`,
              publisher: mallory.libp2p.peerId.toString(),
              issuedAt: Date.now(),
              sequence: Date.now(),
              ttlMs: 60_000,
              content: "x".repeat(150 * 1024),
            })
            outcomes.push(yield* rawPut(mallory, Names.manifestKey("flood", `m${i}`), signed))
          }
          // The first four were stored by both other nodes; every later one was refused by both.
          expect(outcomes.slice(0, 4).map((o) => o.accepted)).toEqual([2, 2, 2, 2])
          expect(outcomes.slice(4).map((o) => o.accepted)).toEqual([0, 0, 0, 0])
          expect(outcomes.slice(4).every((o) => o.refused >= 2)).toBe(true)
          // An honest member is unaffected.
          const mine = yield* mesh[0]!.registry.putManifest("flood", "ops", "kind: Pod")
          const seen = yield* eventually(
            "node 1 to read the honest manifest",
            mesh[1]!.registry.getManifest("flood", "ops").pipe(Effect.option),
            (m) => m._tag === "Some",
          )
          expect(seen._tag === "Some" && seen.value.sequence).toBe(mine.sequence)
        }),
      ),
    )
  }, 120_000)
})
