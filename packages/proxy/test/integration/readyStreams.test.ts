import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { PROXY_PROTOCOL } from "../../src/index.js"
import { connect, echoApp, makeMesh, readAll, startServer, waitFor } from "./fixtures.js"

const echo = async (port: number, text: string) => {
  const socket = await connect(port)
  socket.end(text)
  return (await readAll(socket)).toString()
}

describe("ready streams (OutboundOptions.readyStreams)", () => {
  it.live(
    "connections take streams negotiated ahead; unused ones are closed quietly after their age",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          outbound: { readyStreams: 2, readyStreamMaxAgeMs: 1500 },
        })
        const listener = yield* mesh.listen("echo")
        const proxyStreams = () =>
          mesh.clientNode
            .getConnections()
            .flatMap((c) => c.streams)
            .filter((s) => s.protocol === PROXY_PROTOCOL)
        // The first connection opens its own stream and fills the pool behind it.
        expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("first")
        yield* Effect.promise(() => waitFor("two ready streams", () => proxyStreams().length === 2))
        const ready = new Set(proxyStreams().map((s) => s.id))
        // Waiting ready streams carry nothing: a provider's drain does not wait for them.
        expect(mesh.inbound.activeStreams()).toBe(0)

        // The next connection rides one of them: once it is over and the pool refilled, one of
        // the two ready streams is gone (it carried the connection) and a new one took its place.
        expect(yield* Effect.promise(() => echo(listener.port, "second"))).toBe("second")
        yield* Effect.promise(() =>
          waitFor("the pool to refill", () => proxyStreams().length === 2),
        )
        expect(proxyStreams().filter((s) => ready.has(s.id)).length).toBe(1)

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
                .filter((s) => s.protocol === PROXY_PROTOCOL).length === 0 &&
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
