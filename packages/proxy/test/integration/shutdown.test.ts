import type * as net from "node:net"
import { it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { describe, expect } from "vitest"
import {
  Inbound,
  Libp2pNode,
  Outbound,
  ProxyMetrics,
  Resolver,
  type UpstreamListener,
} from "../../src/index.js"
import {
  captureLogs,
  closed,
  connect,
  echoApp,
  makeMesh,
  makeNode,
  providerOf,
  startServer,
  waitFor,
} from "./fixtures.js"

const withinSeconds = <A>(seconds: number, what: string, promise: Promise<A>) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${seconds} s`)), seconds * 1000),
    ),
  ])

/** Writes `text` and resolves once the echo of it came back (the connection is bridged). */
const roundTrip = (socket: net.Socket, text: string) =>
  new Promise<void>((resolve) => {
    let got = ""
    const onData = (chunk: Buffer) => {
      got += chunk.toString()
      if (got === text) {
        socket.off("data", onData)
        resolve()
      }
    }
    socket.on("data", onData)
    socket.write(text)
  })

describe("shutdown", () => {
  it.live("closing an upstream listener resets its connections, bridged or still connecting", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      // The door holds every connection to `held` at its check: the caller waits for its status.
      const mesh = yield* makeMesh({
        inbound: {
          services: {
            echo: { host: "127.0.0.1", port: app.port },
            held: { host: "127.0.0.1", port: app.port },
          },
          door: {
            check: (_peer, target) =>
              target._tag === "Service" && target.name === "held"
                ? new Promise(() => {})
                : undefined,
          },
        },
      })
      const scope = yield* Scope.make()
      const [echo, held] = yield* Effect.all([mesh.listen("echo"), mesh.listen("held")]).pipe(
        Scope.provide(scope),
      )
      const bridged = yield* Effect.promise(() => connect(echo.port))
      yield* Effect.promise(() => roundTrip(bridged, "ping"))
      const waiting = yield* Effect.promise(() => connect(held.port))
      waiting.write("hello?")
      yield* Effect.promise(() =>
        waitFor("both connections served", () => mesh.outbound.activeConnections() === 2),
      )
      yield* Scope.close(scope, Exit.void)
      yield* Effect.promise(() =>
        withinSeconds(
          5,
          "the callers' sockets closed",
          Promise.all([bridged, waiting].map(closed)),
        ),
      )
      expect(mesh.outbound.activeConnections()).toBe(0)
      // The provider's side of the bridged one ends with it: no socket to the app is left open.
      yield* Effect.promise(() => waitFor("the app's socket closed", () => app.open.size === 0))
      expect(mesh.logs.filter((l) => l.level === "Warn" || l.level === "Error")).toEqual([])
    }),
  )

  it.live("closing the provider's proxy resets its bridged connections at both ends", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const app = yield* startServer(echoApp)
      const serverNode = yield* makeNode
      const clientNode = yield* makeNode
      const serverScope = yield* Scope.make()
      const server = yield* Layer.build(
        Inbound.layer({ services: { echo: { host: "127.0.0.1", port: app.port } } }).pipe(
          Layer.provideMerge(ProxyMetrics.layer),
          Layer.provide(Libp2pNode.layer(serverNode)),
          Layer.provide(logs.layer),
        ),
      ).pipe(Scope.provide(serverScope))
      const client = yield* Layer.build(
        Outbound.layer().pipe(
          Layer.provide(ProxyMetrics.layer),
          Layer.provide(Libp2pNode.layer(clientNode)),
          Layer.provide(Resolver.static({ echo: [providerOf(serverNode)] })),
          Layer.provide(logs.layer),
        ),
      )
      const listener: UpstreamListener = yield* Context.get(client, Outbound).listen({
        service: "echo",
        port: 0,
      })
      const socket = yield* Effect.promise(() => connect(listener.port))
      yield* Effect.promise(() => roundTrip(socket, "ping"))
      expect(Context.get(server, Inbound).activeStreams()).toBe(1)
      yield* Scope.close(serverScope, Exit.void)
      yield* Effect.promise(() =>
        withinSeconds(
          5,
          "the app's socket closed",
          waitFor("no app socket", () => app.open.size === 0),
        ),
      )
      yield* Effect.promise(() => withinSeconds(5, "the caller's socket closed", closed(socket)))
      expect(Context.get(server, Inbound).activeStreams()).toBe(0)
    }),
  )
})
