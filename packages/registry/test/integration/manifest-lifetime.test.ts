import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { certifiedAgents } from "../support/membership.js"
import { eventually, type MeshNode, startMesh } from "../support/mesh.js"

/** Three member agents on 127.0.0.1 whose manifests live 3 s. */
const TTL_MS = 3_000

const readManifest = (observer: MeshNode, name: string) =>
  observer.registry.getManifest("ops", name).pipe(
    Effect.map((m) => ({
      found: true,
      sequence: m.sequence,
      issuedAt: m.issuedAt,
      content: m.content,
    })),
    Effect.catchTag("ManifestNotFound", () =>
      Effect.succeed({ found: false, sequence: 0, issuedAt: 0, content: "" }),
    ),
  )

describe("manifest lifetime (real 3-node DHT with membership)", () => {
  it("a manifest outlives its TTL while its publisher re-signs it, and ages out once the publisher is gone", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const agents = yield* certifiedAgents(3)
          const mesh = yield* startMesh(3, {
            registry: { manifestTtlMs: TTL_MS, queryTimeoutMs: 5_000 },
            perNode: (i) => ({ privateKey: agents.keys[i]!, provenance: agents.membership(i) }),
          })
          const [publisher, observer, other] = mesh as [MeshNode, MeshNode, MeshNode]
          const first = yield* publisher.registry.putManifest("ops", "api", "kind: Pod")
          expect(first.ttlMs).toBe(TTL_MS)
          // Still readable past the first version's expiry: re-signed with the same sequence.
          const renewed = yield* eventually(
            "the observer to read a re-signed version issued after the first one expired",
            readManifest(observer, "api"),
            (m) => m.found && m.issuedAt >= first.issuedAt + TTL_MS,
            { timeoutMs: 5 * TTL_MS },
          )
          expect(renewed.sequence).toBe(first.sequence)

          // A newer version from another member: the first publisher lets go of its own and
          // never brings the older one back.
          const second = yield* other.registry.putManifest("ops", "web", "kind: Pod\nv: 1")
          const third = yield* publisher.registry.putManifest("ops", "web", "kind: Pod\nv: 2")
          expect(third.sequence).toBeGreaterThan(second.sequence)
          yield* eventually(
            "the observer to read v2 past two lifetimes",
            readManifest(observer, "web"),
            (m) => m.found && m.issuedAt >= third.issuedAt + 2 * TTL_MS,
            { timeoutMs: 6 * TTL_MS },
          ).pipe(Effect.tap((m) => Effect.sync(() => expect(m.content).toBe("kind: Pod\nv: 2"))))

          // The publisher stops: nothing re-signs its manifests, and every node refuses them
          // once they expire. The older version of web stays gone too: its publisher let go.
          yield* Scope.close(publisher.scope, Exit.void)
          for (const name of ["api", "web"]) {
            const gone = yield* eventually(
              `${name}, published by the stopped agent, to age out`,
              readManifest(observer, name),
              (m) => !m.found,
              { timeoutMs: 5 * TTL_MS },
            )
            expect(gone.found).toBe(false)
          }
        }),
      ),
    )
  }, 90_000)
})
