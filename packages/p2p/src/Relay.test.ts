import { createServer } from "node:net"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { Stream } from "@libp2p/interface"
import { multiaddr } from "@multiformats/multiaddr"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { makeP2pNode } from "./P2pNode.js"
import { circuitAddress, relayAddressProblem, relayServerInit } from "./Relay.js"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

const ECHO = "/beemesh-test/echo/1.0.0"

/** A loopback port nothing listens on (bound, then released). */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

const firstMessage = (stream: Stream) =>
  new Promise<string>((resolve, reject) => {
    stream.addEventListener(
      "message",
      (event) => resolve(new TextDecoder().decode(event.data.subarray())),
      {
        once: true,
      },
    )
    stream.addEventListener("close", () => reject(new Error("stream closed before a message")), {
      once: true,
    })
  })

const until = <A>(what: string, probe: () => A | undefined, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = probe()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })

describe("circuit relay", () => {
  it("a node that cannot be dialled is reached through its relay slot, end to end over Noise, and DCUtR's failed hole punch is counted", async () => {
    await run(
      Effect.gen(function* () {
        const relay = yield* makeP2pNode({ relayServer: {} })
        const relayAddress = relay.multiaddrs()[0]!.toString()
        // Announces a dead address: only the circuit reaches it.
        const hidden = yield* makeP2pNode({
          announce: [`/ip4/127.0.0.1/tcp/${yield* Effect.promise(closedPort)}`],
          relays: [relayAddress],
          holePunching: true,
          holePunchWindowMs: 3_000,
        })
        yield* Effect.promise(() =>
          hidden.node.handle(ECHO, (stream) => {
            stream.addEventListener("message", (event) => stream.send(event.data))
          }),
        )
        expect(hidden.relayAddresses).toEqual([
          circuitAddress(relayAddress, hidden.peerId.toString()),
        ])
        const caller = yield* makeP2pNode({ holePunching: true, holePunchWindowMs: 3_000 })
        yield* caller.dial(hidden.relayAddresses[0]!)
        const [connection] = caller.node.getConnections(hidden.peerId)
        expect(connection?.remoteAddr.toString()).toContain("/p2p-circuit")
        expect(connection?.encryption).toBe("/noise")
        // The relay's default cap (2 min, 128 KiB) is off: mesh calls run on a plain connection.
        expect(connection?.limits).toBeUndefined()
        const stream = yield* Effect.promise(() => connection!.newStream(ECHO))
        const answer = firstMessage(stream)
        stream.send(new TextEncoder().encode("through the relay"))
        expect(yield* Effect.promise(() => answer)).toBe("through the relay")
        // Loopback addresses are private: DCUtR dials only public ones, so the punch fails.
        const counts = yield* until(
          "the hole punch outcome",
          () => {
            const c = hidden.holePunch()
            return c.failed + c.succeeded > 0 ? c : undefined
          },
          10_000,
        )
        expect(counts).toEqual({ attempted: 1, succeeded: 0, failed: 1 })
        expect(caller.holePunch().attempted).toBe(1)
        // A node without DCUtR counts no attempts on its relayed connections.
        const plain = yield* makeP2pNode()
        yield* plain.dial(hidden.relayAddresses[0]!)
        expect(plain.node.getConnections(hidden.peerId)[0]?.remoteAddr.toString()).toContain(
          "/p2p-circuit",
        )
        expect(plain.holePunch()).toEqual({ attempted: 0, succeeded: 0, failed: 0 })
      }),
    )
  }, 30_000)

  it("takes its slot again when the relay comes back after a restart", async () => {
    const relayKey = await generateKeyPair("Ed25519")
    const port = await closedPort()
    await run(
      Effect.gen(function* () {
        const startRelay = Effect.gen(function* () {
          const scope = yield* Scope.make()
          const relay = yield* makeP2pNode({
            privateKey: relayKey,
            listen: [`/ip4/127.0.0.1/tcp/${port}`],
            relayServer: {},
          }).pipe(Scope.provide(scope))
          return { relay, scope }
        })
        const first = yield* startRelay
        const relayAddress = first.relay.multiaddrs()[0]!.toString()
        const hidden = yield* makeP2pNode({
          announce: [`/ip4/127.0.0.1/tcp/${yield* Effect.promise(closedPort)}`],
          relays: [relayAddress],
          relaySlotCheckMs: 200,
        })
        const caller = yield* makeP2pNode()
        yield* caller.dial(hidden.relayAddresses[0]!)
        yield* Scope.close(first.scope, Exit.void)
        yield* Effect.promise(() => caller.node.hangUp(hidden.peerId))
        const second = yield* startRelay
        const reached = yield* Effect.promise(async () => {
          const deadline = Date.now() + 15_000
          for (;;) {
            const ok = await caller.node
              .dial(multiaddr(hidden.relayAddresses[0]!), { signal: AbortSignal.timeout(2_000) })
              .then(
                () => true,
                () => false,
              )
            if (ok) return true
            if (Date.now() > deadline) return false
            await new Promise((r) => setTimeout(r, 200))
          }
        })
        expect(reached).toBe(true)
        yield* Scope.close(second.scope, Exit.void)
      }),
    )
  }, 30_000)

  it("does not start when its relay cannot be reached, naming the relay", async () => {
    const relay = await run(makeP2pNode().pipe(Effect.map((n) => n.multiaddrs()[0]!.toString())))
    const error = await run(Effect.flip(makeP2pNode({ relays: [relay], dialTimeoutMs: 1_000 })))
    expect(error._tag).toBe("NodeStartFailed")
    expect(error.message).toContain(`${relay}/p2p-circuit`)
  }, 30_000)

  it("refuses relay addresses without the relay's peer id, or already circuit addresses", async () => {
    expect(relayAddressProblem("/ip4/10.0.0.1/tcp/4001")).toMatch(
      /must end with the relay's peer id/,
    )
    expect(relayAddressProblem("nonsense")).toMatch(/is not a multiaddr/)
    const id = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"
    expect(relayAddressProblem(`/ip4/10.0.0.1/tcp/4001/p2p/${id}/p2p-circuit`)).toMatch(
      /already a circuit/,
    )
    expect(relayAddressProblem(`/ip4/10.0.0.1/tcp/4001/p2p/${id}`)).toBeUndefined()
    const error = await run(Effect.flip(makeP2pNode({ relays: ["/ip4/127.0.0.1/tcp/1"] })))
    expect(error.message).toMatch(/bad relay: .*must end with the relay's peer id/)
  })

  it("relay server: many slots, no per-connection cap unless one is asked for", () => {
    expect(relayServerInit()).toEqual({
      maxInboundHopStreams: 64,
      reservations: { maxReservations: 256, applyDefaultLimit: false },
    })
    expect(
      relayServerInit({ maxReservations: 4, connectionLimit: { durationMs: 1_000, bytes: 10n } })
        .reservations,
    ).toEqual({
      maxReservations: 4,
      applyDefaultLimit: true,
      defaultDurationLimit: 1_000,
      defaultDataLimit: 10n,
    })
  })
})
