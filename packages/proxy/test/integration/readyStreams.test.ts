import * as net from "node:net"
import { it } from "@effect/vitest"
import { multiaddr } from "@multiformats/multiaddr"
import { Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import { Inbound, Libp2pNode, ProxyMetrics } from "../../src/index.js"
import {
  echo,
  echoApp,
  isProxyStream,
  makeMesh,
  makeNode,
  providerOf,
  startServer,
  waitFor,
} from "./fixtures.js"

describe("ready streams (OutboundOptions.readyStreams)", () => {
  it.live(
    "connections take streams negotiated ahead; unused ones are closed quietly after their age",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          // Only streams opened ahead here: none kept after their connection (see reuse.test.ts).
          outbound: { readyStreams: 2, readyStreamMaxAgeMs: 1500, maxIdleStreams: 0 },
        })
        const listener = yield* mesh.listen("echo")
        const proxyStreams = () =>
          mesh.clientNode
            .getConnections()
            .flatMap((c) => c.streams)
            .filter((s) => isProxyStream(s))
        // The first connection opens its own stream and fills the pool behind it.
        expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("first")
        yield* Effect.promise(() => waitFor("two ready streams", () => proxyStreams().length === 2))
        const ready = new Set(proxyStreams().map((s) => s.id))
        // Waiting ready streams carry nothing: a provider's drain does not wait for them.
        expect(mesh.inbound.activeStreams()).toBe(0)

        // The next connection rides one of them: once it is over and the pool refilled, one of
        // the two ready streams is gone (it carried the connection) and a new one took its place.
        expect(yield* Effect.promise(() => echo(listener.port, "second"))).toBe("second")
        // (Both conditions at once: the used stream closes and the refill opens in either order.)
        yield* Effect.promise(() =>
          waitFor(
            "the pool to refill",
            () =>
              proxyStreams().length === 2 &&
              proxyStreams().filter((s) => ready.has(s.id)).length === 1,
          ),
        )

        // Many at once: more than the pool holds, all served.
        const replies = yield* Effect.promise(() =>
          Promise.all(Array.from({ length: 50 }, (_, i) => echo(listener.port, `request ${i}`))),
        )
        expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => `request ${i}`))
        expect(mesh.clientMetrics.snapshot().outbound).toMatchObject({ streamsOpened: 52 })

        // Idle: the ready streams are closed after their age and not replaced; the provider
        // treats them as unused, not as failures.
        yield* Effect.promise(() =>
          waitFor(
            "ready streams to be closed",
            () =>
              proxyStreams().length === 0 &&
              mesh.serverNode
                .getConnections()
                .flatMap((c) => c.streams)
                .filter((s) => isProxyStream(s)).length === 0 &&
              mesh.inbound.activeStreams() === 0,
            5_000,
          ),
        )
        const server = mesh.serverMetrics.snapshot().inbound
        expect(server).toMatchObject({ streamsOpened: 52, errors: 0, refused: 0 })
        expect(mesh.clientMetrics.snapshot().outbound.errors).toBe(0)
        expect(mesh.logs.filter((l) => l.level === "Error" || l.level === "Warn")).toEqual([])
      }),
  )
})

describe("ready streams whose provider went away", () => {
  it.live(
    "are not used: the next connection is served on a new connection, the pool refilled there",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          outbound: { readyStreams: 2, maxIdleStreams: 0 },
        })
        const listener = yield* mesh.listen("echo")
        const readyStreams = () =>
          mesh.clientNode
            .getConnections()
            .flatMap((c) => c.streams.map((s) => ({ s, c })))
            .filter(({ s }) => isProxyStream(s))
        expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("first")
        yield* Effect.promise(() => waitFor("two ready streams", () => readyStreams().length === 2))
        const old = mesh.clientNode.getConnections(mesh.serverNode.peerId)[0]!

        // The provider goes away: its connection, and the ready streams on it, are gone.
        yield* Effect.promise(() => mesh.serverNode.hangUp(mesh.clientNode.peerId))
        yield* Effect.promise(() => waitFor("the connection to close", () => old.status !== "open"))

        expect(yield* Effect.promise(() => echo(listener.port, "second"))).toBe("second")
        const current = mesh.clientNode.getConnections(mesh.serverNode.peerId)
        expect(current.map((c) => c.id)).not.toContain(old.id)
        yield* Effect.promise(() =>
          waitFor("the pool to refill on the new connection", () => readyStreams().length === 2),
        )
        expect(readyStreams().every(({ c }) => c.status === "open" && c.id !== old.id)).toBe(true)
        expect(mesh.clientMetrics.snapshot().outbound.errors).toBe(0)
        expect(mesh.serverMetrics.snapshot().inbound.errors).toBe(0)
        expect(mesh.logs.filter((l) => l.level === "Error" || l.level === "Warn")).toEqual([])
      }),
  )
})

describe("ready streams to a provider that goes silent", () => {
  it.live("the next provider serves within two dial timeouts, not the connect timeout", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const services = { echo: { host: "127.0.0.1", port: app.port } }
      // Provider "far": its own node, reached through a relay that can stop forwarding (a lost
      // host says nothing, not even a reset) while the connection and its ready streams stay.
      const far = yield* makeNode
      yield* Layer.build(
        Inbound.layer({ services }).pipe(
          Layer.provide(ProxyMetrics.layer),
          Layer.provide(Libp2pNode.layer(far)),
        ),
      )
      const farPort = Number(far.getMultiaddrs()[0]!.toString().split("/")[4])
      let silent = false
      const upstreams = new Set<net.Socket>()
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const socket of upstreams) socket.destroy()
        }),
      )
      const relay = yield* startServer((socket) => {
        const upstream = net.connect({ host: "127.0.0.1", port: farPort })
        upstreams.add(upstream)
        upstream.on("error", () => socket.destroy())
        socket.on("close", () => upstream.destroy())
        upstream.on("close", () => socket.destroy())
        socket.on("data", (chunk) => silent || upstream.write(chunk))
        upstream.on("data", (chunk) => silent || socket.write(chunk))
      })
      const viaRelay = {
        peerId: far.peerId,
        multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${relay.port}`)],
      }
      const mesh = yield* makeMesh({
        inbound: { services },
        table: (server) => ({ echo: [viaRelay, providerOf(server)] }),
        outbound: { dialTimeoutMs: 500, readyStreams: 2, maxIdleStreams: 0 },
      })
      const listener = yield* mesh.listen("echo")
      // Both providers serve, and the caller holds ready streams to "far".
      for (let i = 0; i < 4; i++) {
        expect(yield* Effect.promise(() => echo(listener.port, `warm ${i}`))).toBe(`warm ${i}`)
      }
      const farStreams = () =>
        mesh.clientNode
          .getConnections(far.peerId)
          .flatMap((c) => c.streams)
          .filter((s) => isProxyStream(s)).length
      yield* Effect.promise(() => waitFor("ready streams to far", () => farStreams() === 2))

      silent = true
      const calls = yield* Effect.promise(async () => {
        const out: Array<{ reply: string; ms: number }> = []
        for (let i = 0; i < 4; i++) {
          const started = performance.now()
          out.push({
            reply: await echo(listener.port, `call ${i}`),
            ms: performance.now() - started,
          })
        }
        return out
      })
      expect(calls.map((c) => c.reply)).toEqual(["call 0", "call 1", "call 2", "call 3"])
      // A call that met "far" first waited two dial timeouts (its ready stream, then a new
      // stream), far below the 10 s connect timeout.
      expect(Math.max(...calls.map((c) => c.ms))).toBeLessThan(3_000)
    }),
  )
})

describe("a sole provider slower than the dial timeout", () => {
  it.live(
    "still serves: the last provider tried has the connect timeout, not the dial timeout",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const services = { echo: { host: "127.0.0.1", port: app.port } }
        const far = yield* makeNode
        yield* Layer.build(
          Inbound.layer({ services }).pipe(
            Layer.provide(ProxyMetrics.layer),
            Layer.provide(Libp2pNode.layer(far)),
          ),
        )
        const farPort = Number(far.getMultiaddrs()[0]!.toString().split("/")[4])
        // A relay that can hold everything back for a while and then deliver it, as two sidecars
        // starved of CPU on a loaded host answer: late, not never.
        let stalled = false
        const held: Array<() => void> = []
        const forward = (to: net.Socket) => (chunk: Buffer) => {
          if (stalled) held.push(() => to.write(chunk))
          else to.write(chunk)
        }
        const upstreams = new Set<net.Socket>()
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            for (const socket of upstreams) socket.destroy()
          }),
        )
        const relay = yield* startServer((socket) => {
          const upstream = net.connect({ host: "127.0.0.1", port: farPort })
          upstreams.add(upstream)
          upstream.on("error", () => socket.destroy())
          socket.on("close", () => upstream.destroy())
          upstream.on("close", () => socket.destroy())
          socket.on("data", forward(upstream))
          upstream.on("data", forward(socket))
        })
        const viaRelay = {
          peerId: far.peerId,
          multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${relay.port}`)],
        }
        const mesh = yield* makeMesh({
          inbound: { services },
          table: () => ({ echo: [viaRelay] }),
          outbound: { dialTimeoutMs: 300, readyStreams: 2, maxIdleStreams: 0 },
        })
        const listener = yield* mesh.listen("echo")
        expect(yield* Effect.promise(() => echo(listener.port, "warm"))).toBe("warm")
        const farStreams = () =>
          mesh.clientNode
            .getConnections(far.peerId)
            .flatMap((c) => c.streams)
            .filter((s) => isProxyStream(s)).length
        yield* Effect.promise(() => waitFor("ready streams to far", () => farStreams() === 2))

        // Held for four dial timeouts: with the dial timeout on the ready stream and then on a new
        // stream, the call was reset after two of them.
        stalled = true
        const release = setTimeout(() => {
          stalled = false
          for (const deliver of held.splice(0)) deliver()
        }, 1200)
        yield* Effect.addFinalizer(() => Effect.sync(() => clearTimeout(release)))
        const started = performance.now()
        expect(yield* Effect.promise(() => echo(listener.port, "slow"))).toBe("slow")
        expect(performance.now() - started).toBeGreaterThanOrEqual(1100)
        expect(yield* Effect.promise(() => echo(listener.port, "after"))).toBe("after")
      }),
  )
})
