import { it } from "@effect/vitest"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { PROXY_PROTOCOL } from "../../src/index.js"
import {
  connect,
  echoApp,
  isProxyStream,
  makeMesh,
  makeNode,
  readAll,
  startServer,
  waitFor,
} from "./fixtures.js"

describe("inbound streams that never send their request frame", () => {
  it.live(
    "are closed after the handshake timeout, their peer's slots released; a real call meanwhile and after goes through",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: {
            services: { echo: { host: "127.0.0.1", port: app.port } },
            handshakeTimeoutMs: 1_000,
            maxStreamsPerPeer: 20,
          },
        })
        const silent = yield* makeNode
        const connection = yield* Effect.promise(() =>
          silent.dial(mesh.serverNode.getMultiaddrs()[0]!),
        )
        const proxyStreams = () =>
          mesh.serverNode
            .getConnections()
            .flatMap((c) => c.streams)
            .filter((s) => isProxyStream(s)).length
        const listener = yield* mesh.listen("echo")
        const echo = Effect.promise(async () => {
          const socket = await connect(listener.port)
          socket.end("hello")
          return (await readAll(socket)).toString()
        })
        // Twice the peer's limit, in two rounds: the second is accepted only if the first round's
        // slots were released when those streams were closed.
        for (let round = 0; round < 2; round++) {
          const streams: Array<Stream> = []
          for (let i = 0; i < 20; i++)
            streams.push(yield* Effect.promise(() => connection.newStream(PROXY_PROTOCOL)))
          // While they are held open: another peer's call is served.
          expect(yield* echo).toBe("hello")
          const openedAt = performance.now()
          yield* Effect.promise(() =>
            waitFor(
              "the silent streams to be closed by the acceptor",
              () => streams.every((s) => s.status !== "open"),
              10_000,
            ),
          )
          expect(performance.now() - openedAt).toBeLessThan(5_000)
        }
        expect(mesh.serverMetrics.snapshot().inbound.refused).toBe(0)
        yield* Effect.promise(() =>
          waitFor("no proxy stream left at the acceptor", () => proxyStreams() === 0, 10_000),
        )
        expect(yield* echo).toBe("hello")
      }),
    60_000,
  )
})
