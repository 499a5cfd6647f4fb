import { it } from "@effect/vitest"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { PROXY_PROTOCOL } from "../../src/index.js"
import { connect, echoApp, makeMesh, makeNode, readAll, startServer, waitFor } from "./fixtures.js"

describe("a stream flood from one peer", () => {
  it.live(
    "one peer holding 4096 idle streams gets at most its share; another peer's call still goes through",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          // Long enough that no idle stream times out while the flood is opened (defaults otherwise).
          inbound: {
            services: { echo: { host: "127.0.0.1", port: app.port } },
            handshakeTimeoutMs: 120_000,
          },
        })
        const attacker = yield* makeNode
        const connection = yield* Effect.promise(() =>
          attacker.dial(mesh.serverNode.getMultiaddrs()[0]!),
        )
        // Idle: each stream negotiates the protocol, then never sends its request frame.
        // One at a time: hundreds of negotiations at once make yamux reset some of them.
        const streams: Array<Stream> = []
        for (let i = 0; i < 4096; i++)
          streams.push(
            yield* Effect.promise(() =>
              connection.newStream(PROXY_PROTOCOL, { maxOutboundStreams: 8192 }),
            ),
          )
        expect(streams.length).toBe(4096)
        // activeStreams() counts streams whose request arrived (idle ones are ready streams as far
        // as the acceptor knows), so the share is seen in the refusals: the peer's streams past
        // its limit, and no more.
        yield* Effect.promise(() =>
          waitFor(
            "the flood to be counted",
            () => mesh.serverMetrics.snapshot().inbound.refused >= 2048,
            60_000,
          ),
        )
        yield* Effect.sleep("500 millis")
        expect(mesh.serverMetrics.snapshot().inbound.refused).toBe(2048)
        expect(mesh.inbound.activeStreams()).toBe(0)
        // Another peer: a real call through the outbound proxy, echoed by the app.
        const listener = yield* mesh.listen("echo")
        const reply = yield* Effect.promise(async () => {
          const socket = await connect(listener.port)
          socket.end("hello from another peer")
          return (await readAll(socket)).toString()
        })
        expect(reply).toBe("hello from another peer")
        for (const stream of streams) stream.abort(new Error("test over"))
      }),
    180_000,
  )
})
