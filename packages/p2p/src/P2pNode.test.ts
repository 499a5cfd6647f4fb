import { mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Deferred, Effect, type Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { makeP2pNode } from "./P2pNode.js"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

/** A port nothing listens on right now (bound, then released). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const portOf = (address: string) => Number(/\/tcp\/(\d+)/.exec(address)?.[1])

describe("makeP2pNode", () => {
  it("listens on loopback, runs identify and ping, announces what it is told, and stops with its scope", async () => {
    const node = await run(
      Effect.gen(function* () {
        const n = yield* makeP2pNode({ announce: ["/ip4/127.0.0.1/tcp/40123"] })
        expect(n.node.status).toBe("started")
        expect(Object.keys(n.node.services).sort()).toEqual(["identify", "ping"])
        expect(n.multiaddrs().map(String)).toEqual([`/ip4/127.0.0.1/tcp/40123/p2p/${n.peerId}`])
        return n.node
      }),
    )
    expect(node.status).toBe("stopped")
  })

  it("takes its identity from a given key, from a key file across restarts, or makes a fresh one", async () => {
    const key = await generateKeyPair("Ed25519")
    const dir = await mkdtemp(join(tmpdir(), "beemesh-p2p-"))
    dirs.push(dir)
    const keyFile = join(dir, "identity.key")
    const given = await run(makeP2pNode({ privateKey: key }).pipe(Effect.map((n) => n.peerId)))
    expect(given.equals(peerIdFromPrivateKey(key))).toBe(true)
    const first = await run(makeP2pNode({ keyFile }).pipe(Effect.map((n) => n.peerId)))
    const second = await run(makeP2pNode({ keyFile }).pipe(Effect.map((n) => n.peerId)))
    expect(second.equals(first)).toBe(true)
    const fresh = await run(makeP2pNode().pipe(Effect.map((n) => n.peerId)))
    expect(fresh.equals(first)).toBe(false)
  })

  it("fails with NodeStartFailed naming the address when the port is taken", async () => {
    const error = await run(
      Effect.gen(function* () {
        const first = yield* makeP2pNode()
        const listen = `/ip4/127.0.0.1/tcp/${portOf(first.multiaddrs()[0]!.toString())}`
        return yield* Effect.flip(makeP2pNode({ listen: [listen] }))
      }),
    )
    expect(error._tag).toBe("NodeStartFailed")
    expect(error.message).toMatch(/listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+: /)
  })

  it("dials a peer and pings it over Noise and Yamux; an unreachable address is a DialFailed", async () => {
    await run(
      Effect.gen(function* () {
        const a = yield* makeP2pNode()
        const b = yield* makeP2pNode()
        const remote = yield* a.dial(b.multiaddrs()[0]!)
        expect(remote.equals(b.peerId)).toBe(true)
        const rtt = yield* Effect.promise(() => a.node.services.ping.ping(b.peerId))
        expect(rtt).toBeGreaterThanOrEqual(0)
        const [connection] = a.node.getConnections(b.peerId)
        expect(connection?.encryption).toBe("/noise")
        expect(connection?.multiplexer).toBe("/yamux/1.0.0")
        const nobody = peerIdFromPrivateKey(yield* Effect.promise(() => generateKeyPair("Ed25519")))
        const closed = `/ip4/127.0.0.1/tcp/${yield* Effect.promise(freePort)}/p2p/${nobody}`
        const error = yield* Effect.flip(a.dial(closed))
        expect(error._tag).toBe("DialFailed")
        expect(error.message).toContain(closed)
        const garbage = yield* Effect.flip(a.dial("not a multiaddr"))
        expect(garbage._tag).toBe("DialFailed")
      }),
    )
  })

  it("pings its connections every pingIntervalMs (libp2p's connection monitor), and only its own end", async () => {
    await run(
      Effect.gen(function* () {
        const a = yield* makeP2pNode({ pingIntervalMs: 200 })
        const b = yield* makeP2pNode()
        yield* a.dial(b.multiaddrs()[0]!)
        const [fromA] = a.node.getConnections(b.peerId)
        const [fromB] = b.node.getConnections(a.peerId)
        // The monitor records each ping's round trip on the connection it pinged.
        for (let i = 0; i < 50 && fromA?.rtt === undefined; i++) yield* Effect.sleep("100 millis")
        expect(fromA?.rtt).toBeTypeOf("number")
        // b keeps libp2p's 10 s: it has not pinged yet.
        expect(fromB?.rtt).toBeUndefined()
      }),
    )
  })

  it("keeps dialling its bootstrap peer until it is up, then runs the caller's hook", async () => {
    const laterKey = await generateKeyPair("Ed25519")
    const port = await freePort()
    const address = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(laterKey)}`
    await run(
      Effect.gen(function* () {
        const joined = yield* Deferred.make<number>()
        const early = yield* makeP2pNode({
          bootstrap: [address],
          bootstrapRetryMs: 100,
          onBootstrapped: (node) =>
            Deferred.succeed(joined, node.getConnections().length).pipe(Effect.asVoid),
        })
        expect(early.node.getConnections()).toEqual([])
        const later = yield* makeP2pNode({
          privateKey: laterKey,
          listen: [`/ip4/127.0.0.1/tcp/${port}`],
        })
        const connections = yield* Deferred.await(joined).pipe(Effect.timeout("10 seconds"))
        expect(connections).toBe(1)
        expect(early.node.getConnections(later.peerId)).toHaveLength(1)
      }),
    )
  })

  it("runs the caller's services beside identify and ping, with the caller's yamux settings", async () => {
    await run(
      Effect.gen(function* () {
        const node = yield* makeP2pNode<{ greeter: { readonly greet: () => string } }>({
          services: { greeter: () => ({ greet: () => "hello" }) },
          yamux: { maxInboundStreams: 7 },
        })
        expect(node.node.services.greeter.greet()).toBe("hello")
        expect(Object.keys(node.node.services).sort()).toEqual(["greeter", "identify", "ping"])
      }),
    )
  })
})
