import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import type { OutboundOptions } from "../../src/index.js"
import { echo, echoApp, makeMesh, makeNode, providerOf, startServer, waitFor } from "./fixtures.js"

/** A mesh whose service has the server and `others` plain nodes as providers, in that order. */
const meshWith = (others: number, outbound: OutboundOptions = {}) =>
  Effect.gen(function* () {
    const app = yield* startServer(echoApp)
    const extra = yield* Effect.forEach(Array.from({ length: others }), () => makeNode)
    const mesh = yield* makeMesh({
      inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
      outbound,
      table: (server) => ({ echo: [providerOf(server), ...extra.map(providerOf)] }),
    })
    const connectedTo = () =>
      extra.filter((node) =>
        mesh.clientNode.getConnections(node.peerId).some((c) => c.status === "open"),
      ).length
    return { mesh, connectedTo }
  })

describe("providers dialled ahead of need (OutboundOptions.predialProviders)", () => {
  it.live("once a connection to a service is open, its other providers are dialled", () =>
    Effect.gen(function* () {
      const { mesh, connectedTo } = yield* meshWith(3)
      const listener = yield* mesh.listen("echo")
      expect(connectedTo()).toBe(0)
      expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("first")
      yield* Effect.promise(() => waitFor("the other providers dialled", () => connectedTo() === 3))
      expect(mesh.logs.filter((l) => l.level === "Error" || l.level === "Warn")).toEqual([])
    }),
  )

  it.live("at most predialProviders of them; none with 0", () =>
    Effect.gen(function* () {
      const bounded = yield* meshWith(3, { predialProviders: 2 })
      const listener = yield* bounded.mesh.listen("echo")
      expect(yield* Effect.promise(() => echo(listener.port, "first"))).toBe("first")
      yield* Effect.promise(() => waitFor("two dialled", () => bounded.connectedTo() === 2))
      yield* Effect.sleep("300 millis")
      expect(bounded.connectedTo()).toBe(2)

      const off = yield* meshWith(3, { predialProviders: 0 })
      const offListener = yield* off.mesh.listen("echo")
      expect(yield* Effect.promise(() => echo(offListener.port, "first"))).toBe("first")
      yield* Effect.sleep("300 millis")
      expect(off.connectedTo()).toBe(0)
    }),
  )
})
