import type * as net from "node:net"
import { it } from "@effect/vitest"
import { multiaddr } from "@multiformats/multiaddr"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import {
  closed,
  connect,
  deadPort,
  echoApp,
  isProxyStream,
  makeMesh,
  makeNode,
  nextError,
  openFds,
  providerOf,
  readAll,
  receiveDigest,
  sendPayload,
  startServer,
  waitFor,
} from "./fixtures.js"

const MiB = 1024 * 1024

describe("half-close", () => {
  it.live("the server still answers in full after the client ends its writing side", () =>
    Effect.gen(function* () {
      // The app reads the whole request first, then answers with 4 MiB derived from it.
      const app = yield* startServer((socket) => {
        readAll(socket).then((request) => {
          const answer = Buffer.alloc(4 * MiB, request.toString())
          socket.end(answer)
        })
      })
      const mesh = yield* makeMesh({
        inbound: { services: { wc: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("wc")
      const reply = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.end("abc")
        return readAll(socket)
      })
      expect(reply.byteLength).toBe(4 * MiB)
      expect(reply.equals(Buffer.alloc(4 * MiB, "abc"))).toBe(true)
    }),
  )
})

describe("many connections", () => {
  it.live("1000 concurrent connections all succeed; sockets and streams return to baseline", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        // Streams kept for the next connections are closed after this.
        outbound: { readyStreamMaxAgeMs: 500 },
      })
      const listener = yield* mesh.listen("echo")
      // Warm up the libp2p connection so the baseline includes it.
      yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.end("warm")
        await readAll(socket)
      })
      const proxyStreams = () =>
        mesh.clientNode
          .getConnections()
          .flatMap((c) => c.streams)
          .filter((s) => isProxyStream(s)).length
      yield* Effect.promise(() => waitFor("warm-up stream to close", () => proxyStreams() === 0))
      const fdBaseline = openFds()

      const replies = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: 1000 }, async (_, i) => {
            const socket = await connect(listener.port)
            const request = `request ${i} `.repeat(100)
            socket.end(request)
            const reply = (await readAll(socket)).toString()
            return reply === request
          }),
        ),
      )
      expect(replies.filter(Boolean).length).toBe(1000)
      const client = mesh.clientMetrics.snapshot().outbound
      expect(client.streamsOpened).toBe(1001)
      expect(client.errors).toBe(0)

      yield* Effect.promise(() =>
        waitFor(
          "sockets and streams to return to baseline",
          () =>
            mesh.clientMetrics.snapshot().outbound.streamsOpen === 0 &&
            mesh.serverMetrics.snapshot().inbound.streamsOpen === 0 &&
            mesh.outbound.activeConnections() === 0 &&
            mesh.inbound.activeStreams() === 0 &&
            app.open.size === 0 &&
            proxyStreams() === 0 &&
            openFds() <= fdBaseline,
          20_000,
        ),
      )
      expect(mesh.clientNode.getConnections().length).toBe(1)
    }),
  )
})

describe("a slow reader", () => {
  it.live("keeps the proxies' buffered bytes bounded while the sender is held back", () =>
    Effect.gen(function* () {
      const total = 128 * MiB
      let appSocket: net.Socket | undefined
      const app = yield* startServer((socket) => {
        socket.pause() // not reading at all, for now
        appSocket = socket
      })
      const mesh = yield* makeMesh({
        inbound: { services: { slow: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("slow")
      const result = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        let sent = 0
        let maxBuffered = 0
        const sample = () => {
          const buffered =
            mesh.clientMetrics.snapshot().bufferedBytes +
            mesh.serverMetrics.snapshot().bufferedBytes
          maxBuffered = Math.max(maxBuffered, buffered)
        }
        const sampler = setInterval(sample, 5)
        const sending = sendPayload(socket, total, (n) => {
          sent = n
        })
        // Wait until the sender is stuck: no progress for 500 ms.
        let last = -1
        while (sent !== last) {
          last = sent
          await new Promise((r) => setTimeout(r, 500))
        }
        const sentWhileStalled = sent
        await waitFor("the app to accept", () => appSocket !== undefined)
        const receiving = receiveDigest(appSocket!)
        appSocket!.resume()
        const [sentHash, received] = await Promise.all([sending, receiving])
        clearInterval(sampler)
        sample()
        return { sentWhileStalled, maxBuffered, sentHash, received }
      })
      // Backpressure reached the sender: it stopped long before the end.
      expect(result.sentWhileStalled).toBeLessThan(64 * MiB)
      // Bounded by the yamux window (16 MiB), whatever the payload size: the paused stream holds at
      // most one window, and the message whose write triggered the pause (queued in the socket) at
      // most another — measured ≈ 16–21 MiB, depending on how loaded the machine is.
      expect(result.maxBuffered).toBeGreaterThan(0)
      expect(result.maxBuffered).toBeLessThan(2 * 16 * MiB + 2 * MiB)
      expect(result.received.bytes).toBe(total)
      expect(result.received.hash).toBe(result.sentHash)
    }),
  )
})

describe("failures", () => {
  it.live("target app down: the caller's socket closes promptly and the error is logged", () =>
    Effect.gen(function* () {
      const port = yield* deadPort
      const mesh = yield* makeMesh({ inbound: { services: { down: { host: "127.0.0.1", port } } } })
      const listener = yield* mesh.listen("down")
      yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.on("error", () => {})
        socket.write("anyone there?")
        await Promise.race([
          closed(socket),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("caller socket still open after 5 s")), 5000),
          ),
        ])
      })
      const errors = mesh.logs.filter((l) => l.level === "Error")
      expect(
        errors.some(
          (l) => l.text.includes("could not connect to exposed") && l.text.includes(String(port)),
        ),
      ).toBe(true)
      expect(mesh.serverMetrics.snapshot().inbound.errors).toBe(1)
      expect(mesh.clientMetrics.snapshot().outbound.errors).toBe(1)
    }),
  )

  it.live("unknown target: refused with a status, the caller's socket is reset", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        table: (server) => ({ secret: [providerOf(server)] }),
      })
      const listener = yield* mesh.listen("secret")
      const outcome = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.on("error", () => {})
        return closed(socket)
      })
      expect(outcome.hadError).toBe(true)
      expect(mesh.serverMetrics.snapshot().inbound.refused).toBe(1)
      expect(app.open.size).toBe(0)
      expect(mesh.logs.some((l) => l.text.includes("UnknownTarget"))).toBe(true)
    }),
  )

  it.live("first provider dead: the second one serves", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      // A provider whose node is gone: its address refuses connections.
      const dead = yield* Effect.scoped(makeNode.pipe(Effect.map(providerOf)))
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        table: (server) => ({ echo: [dead, providerOf(server)] }),
      })
      const listener = yield* mesh.listen("echo")
      const replies = yield* Effect.promise(async () => {
        const out: string[] = []
        for (let i = 0; i < 3; i++) {
          const socket = await connect(listener.port)
          socket.end(`ping ${i}`)
          out.push((await readAll(socket)).toString())
        }
        return out
      })
      expect(replies).toEqual(["ping 0", "ping 1", "ping 2"])
      const warnings = mesh.logs.filter(
        (l) => l.level === "Warn" && l.text.includes(dead.peerId.toString()),
      )
      expect(warnings.length).toBeGreaterThanOrEqual(1)
      expect(warnings[0]!.text).toContain("failed at dial")
    }),
  )

  it.live(
    "first provider silent (its host lost): the next one serves within the dial timeout, and later calls skip it",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        // A lost host answers nothing, not even a reset: its address accepts TCP and never speaks.
        let silentAccepted = 0
        const silentHost = yield* startServer(() => {
          silentAccepted++
        })
        const lost = yield* Effect.scoped(makeNode.pipe(Effect.map(providerOf)))
        const silent = {
          peerId: lost.peerId,
          multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${silentHost.port}`)],
        }
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          table: (server) => ({ echo: [silent, providerOf(server)] }),
          outbound: { connectTimeoutMs: 10_000, dialTimeoutMs: 500 },
        })
        const listener = yield* mesh.listen("echo")
        const calls = yield* Effect.promise(async () => {
          const out: Array<{ reply: string; ms: number }> = []
          for (let i = 0; i < 4; i++) {
            const started = performance.now()
            const socket = await connect(listener.port)
            socket.end(`ping ${i}`)
            out.push({ reply: (await readAll(socket)).toString(), ms: performance.now() - started })
          }
          return out
        })
        expect(calls.map((c) => c.reply)).toEqual(["ping 0", "ping 1", "ping 2", "ping 3"])
        // The first call waited for the dial timeout, not the 10 s connect timeout …
        expect(calls[0]!.ms).toBeGreaterThanOrEqual(450)
        expect(calls[0]!.ms).toBeLessThan(5_000)
        // … and the silent provider, first in line again for the third call, was skipped.
        expect(silentAccepted).toBe(1)
        const warnings = mesh.logs.filter(
          (l) => l.level === "Warn" && l.text.includes(silent.peerId.toString()),
        )
        expect(warnings.map((l) => l.text)).toEqual([expect.stringContaining("failed at dial")])
      }),
  )

  it.live("reset in the middle: the app sees the caller's reset, the caller sees the app's", () =>
    Effect.gen(function* () {
      const appSockets: net.Socket[] = []
      const app = yield* startServer((socket) => {
        appSockets.push(socket)
        socket.write("hello from app")
      })
      const mesh = yield* makeMesh({
        inbound: { services: { app: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("app")

      const firstHello = (socket: net.Socket) =>
        new Promise<void>((resolve) => socket.once("data", () => resolve()))

      // Caller resets → the app sees ECONNRESET.
      const appSaw = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        await firstHello(socket)
        const appSocket = appSockets[0]!
        const seen = nextError(appSocket)
        socket.resetAndDestroy()
        return seen
      })
      expect(appSaw.code).toBe("ECONNRESET")

      // App resets → the caller sees ECONNRESET.
      const callerSaw = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        await firstHello(socket)
        const seen = nextError(socket)
        appSockets[1]!.resetAndDestroy()
        return seen
      })
      expect(callerSaw.code).toBe("ECONNRESET")
      yield* Effect.promise(() =>
        waitFor(
          "both bridges to finish",
          () => mesh.clientMetrics.snapshot().outbound.streamsOpen === 0,
        ),
      )
      expect(mesh.clientMetrics.snapshot().outbound.errors).toBe(2)
    }),
  )

  it.live("idle connections are reset after the idle timeout", () =>
    Effect.gen(function* () {
      // The app reads (so it notices the reset) but never sends.
      const app = yield* startServer((socket) => socket.resume())
      const mesh = yield* makeMesh({
        inbound: {
          services: { idle: { host: "127.0.0.1", port: app.port } },
          idleTimeoutMs: 60_000,
        },
        outbound: { idleTimeoutMs: 300 },
      })
      const listener = yield* mesh.listen("idle")
      const outcome = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.on("error", () => {})
        return closed(socket)
      })
      expect(outcome.hadError).toBe(true)
      yield* Effect.promise(() =>
        waitFor("the app's socket to be reset too", () => app.open.size === 0),
      )
    }),
  )

  it.live("beyond the concurrent stream limit, streams are refused as overloaded", () =>
    Effect.gen(function* () {
      const app = yield* startServer(() => {})
      const mesh = yield* makeMesh({
        inbound: { services: { busy: { host: "127.0.0.1", port: app.port } }, maxStreams: 2 },
      })
      const listener = yield* mesh.listen("busy")
      const third = yield* Effect.promise(async () => {
        await connect(listener.port)
        await connect(listener.port)
        await waitFor("two streams to be bridged", () => app.open.size === 2)
        const socket = await connect(listener.port)
        socket.on("error", () => {})
        return closed(socket)
      })
      expect(third.hadError).toBe(true)
      expect(mesh.serverMetrics.snapshot().inbound.refused).toBe(1)
      expect(mesh.logs.some((l) => l.text.includes("Overloaded"))).toBe(true)
    }),
  )
})

describe("port targets", () => {
  it.live("a peer can ask for an exposed port by number, and only for exposed ones", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const other = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { ports: [app.port] },
        table: (server) => ({ byport: [providerOf(server)] }),
      })
      const allowed = yield* mesh.outbound.listen({
        service: "byport",
        port: 0,
        target: { _tag: "Port", port: app.port },
      })
      const denied = yield* mesh.outbound.listen({
        service: "byport",
        port: 0,
        target: { _tag: "Port", port: other.port },
      })
      const reply = yield* Effect.promise(async () => {
        const socket = await connect(allowed.port)
        socket.end("by number")
        return (await readAll(socket)).toString()
      })
      expect(reply).toBe("by number")
      const refused = yield* Effect.promise(async () => {
        const socket = await connect(denied.port)
        socket.on("error", () => {})
        return closed(socket)
      })
      expect(refused.hadError).toBe(true)
      expect(other.open.size).toBe(0)
    }),
  )
})
