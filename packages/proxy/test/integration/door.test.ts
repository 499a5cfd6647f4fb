import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import type { Door } from "../../src/index.js"
import {
  closed,
  connect,
  echoApp,
  isProxyStream,
  makeMesh,
  readAll,
  startServer,
  waitFor,
} from "./fixtures.js"

describe("door", () => {
  it.live(
    "a denied caller is refused with Denied: its socket is reset, both sides count and log it",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const checked: string[] = []
        const door: Door = {
          check: (peer, target) => {
            checked.push(`${peer} ${target._tag === "Service" ? target.name : target.port}`)
            return {
              reason: "namespace",
              message: 'callers from namespace "other" may not reach "shop"',
            }
          },
        }
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } }, door },
        })
        const listener = yield* mesh.listen("echo")
        const outcome = yield* Effect.promise(async () => {
          const socket = await connect(listener.port)
          socket.write("hello")
          return closed(socket)
        })
        expect(outcome.hadError).toBe(true)
        expect(checked).toEqual([`${mesh.clientNode.peerId.toString()} echo`])
        expect(app.open.size).toBe(0)
        const server = mesh.serverMetrics.snapshot()
        expect(server.denied.inbound).toEqual({ namespace: 1 })
        expect(server.inbound.refused).toBe(1)
        expect(server.inbound.streamsOpened).toBe(0)
        expect(server.services.find((s) => s.service === "echo")?.refused).toBe(1)
        const client = mesh.clientMetrics.snapshot()
        expect(client.denied.outbound).toEqual({ policy: 1 })
        expect(client.outbound.refused).toBe(1)
        expect(
          mesh.logs.some(
            (l) =>
              l.level === "Error" &&
              l.text.includes("upstream echo: denied by policy at provider") &&
              l.text.includes('callers from namespace "other"'),
          ),
        ).toBe(true)
        expect(
          mesh.logs.some((l) => l.level === "Warn" && l.text.includes("denied stream from")),
        ).toBe(true)
      }),
  )

  it.live("an admitted caller is bridged as without a door", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      let calls = 0
      const door: Door = {
        check: () => {
          calls++
          return undefined
        },
      }
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } }, door },
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
      expect(calls).toBe(3)
      expect(mesh.serverMetrics.snapshot().denied.inbound).toEqual({})
    }),
  )

  it.live(
    "with ready streams, every call is still checked and a denied one reaches no app, pooled or not",
    () =>
      Effect.gen(function* () {
        let accepted = 0
        const app = yield* startServer((socket) => {
          accepted++
          echoApp(socket)
        })
        let checks = 0
        const door: Door = {
          check: () => {
            checks++
            return { reason: "namespace", message: "not from this namespace" }
          },
        }
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } }, door },
          outbound: { readyStreams: 2 },
        })
        const listener = yield* mesh.listen("echo")
        const proxyStreams = () =>
          mesh.clientNode
            .getConnections()
            .flatMap((c) => c.streams)
            .filter((s) => isProxyStream(s))
        const call = async () => {
          const socket = await connect(listener.port)
          socket.write("early bytes for an app that must not see them")
          return closed(socket)
        }
        // The first call opens its own stream; the pool fills behind it.
        expect((yield* Effect.promise(call)).hadError).toBe(true)
        yield* Effect.promise(() => waitFor("two ready streams", () => proxyStreams().length === 2))
        // The next ones ride ready streams: admitted or not per request, like any other.
        for (let i = 0; i < 3; i++) expect((yield* Effect.promise(call)).hadError).toBe(true)
        expect(checks).toBe(4)
        expect(accepted).toBe(0)
        expect(mesh.serverMetrics.snapshot().denied.inbound).toEqual({ namespace: 4 })
        expect(mesh.clientMetrics.snapshot().denied.outbound).toEqual({ policy: 4 })
      }),
  )
})
