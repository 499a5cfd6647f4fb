import { mkdtemp, rm, stat } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { eventually, startNode } from "../support/mesh.js"

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

/** A free loopback port: bind to 0, read it, release it. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      )
    })
  })

describe("a node that starts before its bootstrap peer", () => {
  it("keeps re-dialling until the peer is up, then joins and resolves its services", async () => {
    const port = await freePort()
    const seedKey = await generateKeyPair("Ed25519")
    const seedAddr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(seedKey).toString()}`
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const scope = yield* Effect.scope
          const early = yield* startNode(
            scope,
            1,
            { bootstrap: [seedAddr], bootstrapRetryMs: 300, dialTimeoutMs: 2_000 },
            { cacheTtlMs: 0 },
          )
          expect(early.libp2p.routingTableSize()).toBe(0)
          const seed = yield* startNode(
            scope,
            0,
            { privateKey: seedKey, listen: [`/ip4/127.0.0.1/tcp/${port}`] },
            {},
          )
          yield* eventually(
            "the early node to reach its bootstrap peer",
            Effect.sync(() => early.libp2p.routingTableSize()),
            (n) => n >= 1,
          )
          yield* seed.registry.register("late", "api", {
            workload: "api",
            pod: "api-0",
            ports: [{ port: 80 }],
          })
          const records = yield* eventually(
            "the early node to resolve late/api",
            early.registry.resolve("late", "api"),
            (rs) => rs.length === 1,
          )
          expect(records[0]!.provider).toBe(seed.libp2p.peerId.toString())
        }),
      ),
    )
  })
})
