import { mkdtemp, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { startNode } from "../support/mesh"

const dirs: string[] = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

/** Everything a lone node does must finish well inside this, or the test fails by name. */
const LONE_DEADLINE = "15 seconds"

describe("a lone node (no peers at all)", () => {
  it("registers, resolves, withdraws and stores manifests without hanging", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-registry-lone-"))
    dirs.push(dir)
    const keyFile = join(dir, "identity", "node.key")
    const program = Effect.gen(function* () {
      const scope = yield* Scope.make()
      const lone = yield* startNode(
        scope,
        0,
        { keyFile },
        { cacheTtlMs: 0, queryTimeoutMs: 20_000 },
      )
      expect(lone.libp2p.routingTableSize()).toBe(0)
      const registrationScope = yield* Scope.fork(scope)
      yield* lone.registry
        .register("solo", "api", {
          workload: "api",
          pod: "api-0",
          ports: [{ port: 8080 }],
        })
        .pipe(Scope.provide(registrationScope))
      const records = yield* lone.registry.resolve("solo", "api")
      expect(records.map((r) => r.provider)).toEqual([lone.libp2p.peerId.toString()])
      const manifest = yield* lone.registry.putManifest("solo", "api", "kind: Pod")
      expect((yield* lone.registry.getManifest("solo", "api")).sequence).toBe(manifest.sequence)
      yield* Scope.close(registrationScope, Exit.void)
      expect(yield* lone.registry.resolve("solo", "api")).toEqual([])
      expect(yield* lone.registry.resolve("solo", "unknown")).toEqual([])
      const peerId = lone.libp2p.peerId.toString()
      yield* Scope.close(scope, Exit.void)
      return peerId
    })
    const peerId = await Effect.runPromise(
      program.pipe(
        Effect.timeoutOrElse({
          duration: LONE_DEADLINE,
          orElse: () => Effect.die(new Error(`lone node did not finish within ${LONE_DEADLINE}`)),
        }),
      ),
    )
    // The identity persisted with mode 0600, and a restart keeps the same peer id.
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    const again = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const lone = yield* startNode(yield* Effect.scope, 0, { keyFile }, {})
          return lone.libp2p.peerId.toString()
        }),
      ),
    )
    expect(again).toBe(peerId)
  })
})
