import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import {
  connect,
  echoApp,
  makeMesh,
  readAll,
  receiveDigest,
  sendPayload,
  startServer,
  waitFor,
} from "./fixtures.js"

const MiB = 1024 * 1024

describe("data transfer through outbound proxy → libp2p → inbound proxy", () => {
  it.live("echoes a small request", () =>
    Effect.gen(function* () {
      const app = yield* startServer(echoApp)
      const mesh = yield* makeMesh({
        inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("echo")
      const reply = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.end("hello beemesh")
        return readAll(socket)
      })
      expect(reply.toString()).toBe("hello beemesh")
      yield* Effect.promise(() =>
        waitFor("streams to close", () => mesh.clientMetrics.snapshot().outbound.streamsOpen === 0),
      )
      const client = mesh.clientMetrics.snapshot().outbound
      expect(client).toMatchObject({ bytesOut: 13, bytesIn: 13, streamsOpened: 1, errors: 0 })
      expect(mesh.serverMetrics.snapshot().inbound).toMatchObject({
        bytesOut: 13,
        bytesIn: 13,
        streamsOpened: 1,
      })
    }),
  )

  it.live("carries 256 MiB each way at once, byte-exact (sha256 compared)", () =>
    Effect.gen(function* () {
      const size = 256 * MiB
      const appSide: {
        sent?: Promise<string>
        received?: Promise<{ hash: string; bytes: number }>
      } = {}
      const app = yield* startServer((socket) => {
        appSide.received = receiveDigest(socket)
        appSide.sent = sendPayload(socket, size)
      })
      const mesh = yield* makeMesh({
        inbound: { services: { bulk: { host: "127.0.0.1", port: app.port } } },
      })
      const listener = yield* mesh.listen("bulk")
      const result = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        const [clientSent, clientReceived] = await Promise.all([
          sendPayload(socket, size),
          receiveDigest(socket),
        ])
        await waitFor("the app to accept", () => appSide.received !== undefined)
        const [appSent, appReceived] = await Promise.all([appSide.sent!, appSide.received!])
        return { clientSent, clientReceived, appSent, appReceived }
      })
      expect(result.appReceived.bytes).toBe(size)
      expect(result.clientReceived.bytes).toBe(size)
      expect(result.appReceived.hash).toBe(result.clientSent)
      expect(result.clientReceived.hash).toBe(result.appSent)
    }),
  )
})
