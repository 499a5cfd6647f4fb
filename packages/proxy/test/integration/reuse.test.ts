import { it } from "@effect/vitest"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { type Door, PROXY_PROTOCOL, PROXY_PROTOCOL_REUSABLE, Protocol } from "../../src/index.js"
import {
  connect,
  echo,
  echoApp,
  isProxyStream,
  makeMesh,
  makeNode,
  nextError,
  readAll,
  receiveDigest,
  sendPayload,
  startServer,
  waitFor,
} from "./fixtures.js"

const MiB = 1024 * 1024

/** Both ends of the proxy's streams between the mesh's two nodes, by protocol. */
const proxyStreams = (mesh: { clientNode: NodeLike; serverNode: NodeLike }) => ({
  client: mesh.clientNode
    .getConnections()
    .flatMap((c) => c.streams)
    .filter(isProxyStream),
  server: mesh.serverNode
    .getConnections()
    .flatMap((c) => c.streams)
    .filter(isProxyStream),
})
/** Waits until the caller holds exactly one proxy stream (its connection over, the stream kept). */
const idleStream = (mesh: { clientNode: NodeLike; serverNode: NodeLike }) =>
  Effect.promise(() =>
    waitFor("the stream to be idle", () => proxyStreams(mesh).client.length === 1),
  )
interface NodeLike {
  getConnections(): ReadonlyArray<{ streams: ReadonlyArray<Stream> }>
}

describe("a stream carries one connection after another (/beemesh/proxy/1.1.0)", () => {
  it.live("connections in a row ride one stream, each with its own bytes and ends", () =>
    Effect.gen(function* () {
      // Three kinds of app: echo (the caller ends first), speaks first and ends first (like an
      // HTTP/1.0 server), and one that answers only after the caller's end.
      const banner = yield* startServer((socket) => {
        socket.on("data", () => {})
        socket.end("banner then close")
      })
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: {
          services: {
            echo: { host: "127.0.0.1", port: app.port },
            banner: { host: "127.0.0.1", port: banner.port },
          },
        },
      })
      const echoListener = yield* mesh.listen("echo")
      const bannerListener = yield* mesh.listen("banner")
      const ids = new Set<string>()
      for (let i = 0; i < 10; i++) {
        expect(yield* Effect.promise(() => echo(echoListener.port, `call ${i}`))).toBe(`call ${i}`)
        expect(yield* Effect.promise(() => echo(bannerListener.port, "ignored"))).toBe(
          "banner then close",
        )
        // The stream goes back to the pool once both of its sides are done.
        yield* idleStream(mesh)
        for (const stream of proxyStreams(mesh).client) ids.add(stream.id)
      }
      // One stream for all twenty connections, at both ends, on the new protocol.
      expect(ids.size).toBe(1)
      const { client, server } = proxyStreams(mesh)
      expect(client.map((s) => s.protocol)).toEqual([PROXY_PROTOCOL_REUSABLE])
      expect(server).toHaveLength(1)
      expect(mesh.serverMetrics.snapshot().inbound).toMatchObject({
        streamsOpened: 20,
        errors: 0,
      })
      expect(mesh.clientMetrics.snapshot().outbound).toMatchObject({
        streamsOpened: 20,
        errors: 0,
        bytesOut: 10 * "call 0".length + 10 * "ignored".length,
      })
      // Nothing in flight on an idle stream: the provider counts no active connection.
      expect(mesh.inbound.activeStreams()).toBe(0)
      expect(mesh.logs.filter((l) => l.level === "Error" || l.level === "Warn")).toEqual([])
    }),
  )

  it.live(
    "bulk both ways, then the next connection on the same stream gets only its own bytes",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        })
        const listener = yield* mesh.listen("echo")
        for (let round = 0; round < 3; round++) {
          const result = yield* Effect.promise(async () => {
            const socket = await connect(listener.port)
            const received = receiveDigest(socket)
            const sent = await sendPayload(socket, 8 * MiB + 17)
            return { sent, received: await received }
          })
          expect(result.received).toEqual({ hash: result.sent, bytes: 8 * MiB + 17 })
          expect(yield* Effect.promise(() => echo(listener.port, `after ${round}`))).toBe(
            `after ${round}`,
          )
        }
        yield* idleStream(mesh)
        expect(mesh.serverMetrics.snapshot().inbound).toMatchObject({ streamsOpened: 6, errors: 0 })
      }),
  )

  it.live("a reset connection resets its stream: the next connection gets a new one", () =>
    Effect.gen(function* () {
      let resets = 0
      const app = yield* startServer((socket) => {
        socket.once("data", (chunk) => {
          if (String(chunk).startsWith("reset")) {
            resets++
            socket.resetAndDestroy()
          } else socket.end(chunk)
        })
      })
      const mesh = yield* makeMesh({
        inbound: { services: { app: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("app")
      expect(yield* Effect.promise(() => echo(listener.port, "one"))).toBe("one")
      yield* idleStream(mesh)
      const first = proxyStreams(mesh).client[0]!.id
      const error = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.write("reset please")
        return nextError(socket)
      })
      expect(error.code).toBe("ECONNRESET")
      expect(resets).toBe(1)
      expect(yield* Effect.promise(() => echo(listener.port, "two"))).toBe("two")
      yield* Effect.promise(() =>
        waitFor("one idle stream, not the reset one", () => {
          const { client } = proxyStreams(mesh)
          return client.length === 1 && client[0]!.id !== first
        }),
      )
    }),
  )

  it.live("an idle stream is closed after its age, quietly at both ends", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        outbound: { readyStreamMaxAgeMs: 300 },
      })
      const listener = yield* mesh.listen("echo")
      expect(yield* Effect.promise(() => echo(listener.port, "once"))).toBe("once")
      yield* idleStream(mesh)
      yield* Effect.promise(() =>
        waitFor("no stream at either end", () => {
          const { client, server } = proxyStreams(mesh)
          return client.length === 0 && server.length === 0
        }),
      )
      expect(mesh.serverMetrics.snapshot().inbound.errors).toBe(0)
      expect(mesh.logs.filter((l) => l.level === "Error" || l.level === "Warn")).toEqual([])
    }),
  )

  it.live("maxIdleStreams: 0 keeps no stream after its connection", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        outbound: { maxIdleStreams: 0 },
      })
      const listener = yield* mesh.listen("echo")
      const ids = new Set<string>()
      for (let i = 0; i < 3; i++) {
        const socket = yield* Effect.promise(() => connect(listener.port))
        yield* Effect.promise(() =>
          waitFor("the connection's stream", () => proxyStreams(mesh).client.length === 1),
        )
        ids.add(proxyStreams(mesh).client[0]!.id)
        socket.end("x")
        yield* Effect.promise(() => readAll(socket))
        yield* Effect.promise(() =>
          waitFor("no stream left", () => proxyStreams(mesh).client.length === 0),
        )
      }
      expect(ids.size).toBe(3)
    }),
  )
})

describe("the door on a reused stream", () => {
  it.live("checks every connection: a denied one after an admitted one reaches no app", () =>
    Effect.gen(function* () {
      const received: string[] = []
      const app = yield* startServer((socket) => {
        socket.on("data", (chunk) => received.push(String(chunk)))
        socket.on("end", () => socket.end("ok"))
      })
      let checks = 0
      const door: Door = {
        check: () => {
          checks++
          return checks === 2 ? { reason: "test", message: "second call denied" } : undefined
        },
      }
      const mesh = yield* makeMesh({
        inbound: { services: { app: { host: "127.0.0.1", port: app.port } }, door },
      })
      const listener = yield* mesh.listen("app")
      expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("ok")
      yield* idleStream(mesh)
      const denied = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.write("second, must not arrive")
        return nextError(socket)
      })
      expect(denied.code).toBe("ECONNRESET")
      expect(yield* Effect.promise(() => echo(listener.port, "third"))).toBe("ok")
      expect(checks).toBe(3)
      expect(received.join("")).toBe("firstthird")
      expect(mesh.serverMetrics.snapshot().denied.inbound).toEqual({ test: 1 })
    }),
  )
})

describe("peers of the other version", () => {
  it.live("a caller that speaks only 1.0.0 is served a connection per stream", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
      })
      const caller = yield* makeNode
      const connection = yield* Effect.promise(() =>
        caller.dial(mesh.serverNode.getMultiaddrs()[0]!),
      )
      const stream = yield* Effect.promise(() => connection.newStream(PROXY_PROTOCOL))
      expect(stream.protocol).toBe(PROXY_PROTOCOL)
      const received = yield* Effect.promise(
        () =>
          new Promise<Buffer>((resolve) => {
            let bytes = Buffer.alloc(0)
            stream.addEventListener("message", (event) => {
              bytes = Buffer.concat([bytes, Buffer.from(event.data.subarray())])
            })
            stream.addEventListener("end", () => resolve(bytes))
            stream.send(Protocol.encodeRequest({ _tag: "Service", name: "echo" }))
            stream.send(new TextEncoder().encode("raw bytes"))
            stream.close().catch(() => {})
          }),
      )
      const status = Protocol.decodeStatus(received)
      expect(status._tag).toBe("Complete")
      if (status._tag !== "Complete") return
      expect(status.value.code).toBe(Protocol.StatusCode.Ok)
      expect(received.subarray(status.consumed).toString()).toBe("raw bytes")
    }),
  )
})

describe("a hostile caller on 1.1.0", () => {
  it.live(
    "malformed segments reset the app's connection and the stream; the provider goes on",
    () =>
      Effect.gen(function* () {
        const seen: Array<"closed" | "reset"> = []
        const app = yield* startServer((socket) => {
          socket.on("data", () => {})
          socket.on("error", () => seen.push("reset"))
          socket.on("end", () => seen.push("closed"))
        })
        const echoServer = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: {
            services: {
              sink: { host: "127.0.0.1", port: app.port },
              echo: { host: "127.0.0.1", port: echoServer.port },
            },
          },
        })
        const attacker = yield* makeNode
        const connection = yield* Effect.promise(() =>
          attacker.dial(mesh.serverNode.getMultiaddrs()[0]!),
        )
        const attempt = (after: Uint8Array, close = false) =>
          Effect.promise(async () => {
            const stream = await connection.newStream(PROXY_PROTOCOL_REUSABLE)
            const ended = new Promise<string>((resolve) => {
              stream.addEventListener("close", (event) =>
                resolve((event as Event & { error?: Error }).error ? "reset" : "closed"),
              )
            })
            stream.send(Protocol.encodeRequest({ _tag: "Service", name: "sink" }))
            stream.send(after)
            if (close) stream.close().catch(() => {})
            return ended
          })
        const before = app.open.size
        // An unknown segment kind, an end with a length, an empty data segment.
        for (const bad of [
          Uint8Array.of(7, 0, 0, 1, 0),
          Uint8Array.of(1, 0, 0, 5),
          Uint8Array.of(0, 0, 0, 0),
        ]) {
          expect(yield* attempt(bad)).toBe("reset")
        }
        yield* Effect.promise(() =>
          waitFor("the app's connections to be gone", () => app.open.size === before),
        )
        // The stream closed without the caller's end segment: the app's connection is reset too,
        // not ended as if the caller had finished.
        expect(yield* attempt(Uint8Array.of(0, 0, 0, 3, 0x61, 0x62, 0x63), true)).toBe("reset")
        yield* Effect.promise(() =>
          waitFor("the app's connections to be gone", () => app.open.size === before),
        )
        expect(seen).not.toContain("closed")
        expect(seen.length).toBeGreaterThanOrEqual(1)
        expect(mesh.serverMetrics.snapshot().inbound.errors).toBe(4)
        // A real caller is still served.
        const listener = yield* mesh.listen("echo")
        expect(yield* Effect.promise(() => echo(listener.port, "still here"))).toBe("still here")
      }),
  )
})
