/**
 * Per-service traffic (Traffic.ts) over real libp2p nodes and sockets: the counters match the
 * bytes the clients sent and received, and failures land in the series they belong to.
 */
import * as net from "node:net"
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import type { ServiceTrafficSnapshot } from "../../src/index.js"
import {
  connect,
  echoApp,
  makeMesh,
  providerOf,
  readAll,
  startServer,
  waitFor,
} from "./fixtures.js"

const find = (
  services: ReadonlyArray<ServiceTrafficSnapshot>,
  direction: "inbound" | "outbound",
  service: string,
  peer: string,
) => services.find((s) => s.direction === direction && s.service === service && s.peer === peer)

describe("per-service traffic", () => {
  it.live("counts connections, bytes each way and setup times per service and provider label", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
        table: (server) => ({ echo: [{ ...providerOf(server), label: "echo-workload" }] }),
      })
      const listener = yield* mesh.listen("echo")
      const sizes = Array.from({ length: 12 }, (_, i) => 1000 + i * 777)
      const received = yield* Effect.promise(() =>
        Promise.all(
          sizes.map(async (size) => {
            const socket = await connect(listener.port)
            socket.end(Buffer.alloc(size, 7))
            return (await readAll(socket)).byteLength
          }),
        ),
      )
      const total = sizes.reduce((a, b) => a + b, 0)
      expect(received.reduce((a, b) => a + b, 0)).toBe(total)
      yield* Effect.promise(() =>
        waitFor(
          "bridges to finish",
          () => mesh.clientMetrics.snapshot().outbound.streamsOpen === 0,
        ),
      )
      const outbound = find(
        mesh.clientMetrics.snapshot().services,
        "outbound",
        "echo",
        "echo-workload",
      )
      expect(outbound).toMatchObject({
        connections: 12,
        bytesSent: total,
        bytesReceived: total,
        errors: 0,
        refused: 0,
      })
      expect(outbound?.setup.count).toBe(12)
      expect(outbound?.setup.buckets.reduce((a, b) => a + b, 0)).toBe(12)
      expect(outbound?.setup.sumSeconds).toBeGreaterThan(0)
      const inbound = find(mesh.serverMetrics.snapshot().services, "inbound", "echo", "")
      expect(inbound).toMatchObject({ connections: 12, bytesSent: total, bytesReceived: total })
    }),
  )

  it.live(
    'no provider is a refusal and an unknown target an inbound refusal under service ""',
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          table: (server) => ({ secret: [providerOf(server)], nobody: [] }),
        })
        for (const service of ["secret", "nobody"]) {
          const listener = yield* mesh.listen(service)
          // Reset at once: the connect itself may see the reset, so no `connect` helper here.
          yield* Effect.promise(
            () =>
              new Promise((resolve) => {
                const socket = net.connect(listener.port, "127.0.0.1")
                socket.on("error", () => {})
                socket.once("close", resolve).resume()
              }),
          )
        }
        const client = mesh.clientMetrics.snapshot().services
        expect(find(client, "outbound", "nobody", "")).toMatchObject({ refused: 1, connections: 0 })
        expect(find(client, "outbound", "secret", "")).toMatchObject({ errors: 1, connections: 0 })
        const server = mesh.serverMetrics.snapshot().services
        expect(find(server, "inbound", "", "")).toMatchObject({ refused: 1 })
        expect(find(server, "inbound", "secret", "")).toBeUndefined()
      }),
  )
})
