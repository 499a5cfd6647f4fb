/**
 * The workspace's patch to @chainsafe/libp2p-yamux (patches/, pnpm `patchedDependencies`): a
 * stream grants receive window once at least half of it was consumed, instead of one window
 * update per data frame. On a request/response path the per-frame updates doubled the messages
 * (each one a Noise message and a socket write both ways). This fails if the patch is dropped,
 * for example by a yamux upgrade that does not carry it.
 */
import { it } from "@effect/vitest"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { makeNode } from "./fixtures.js"

const PROTOCOL = "/beemesh-test/echo/1.0.0"
const ROUNDS = 64
/** yamux frame type 1 (window update) with no flags: a plain grant, not SYN/ACK/FIN/RST. */
const isPlainWindowUpdate = (header: { type: number; flag: number }) =>
  header.type === 1 && header.flag === 0

/** Counts the plain window updates a (yamux) stream sends from now on. */
const countWindowUpdates = (stream: Stream) => {
  const yamuxStream = stream as unknown as {
    sendFrame: (header: { type: number; flag: number }, data?: unknown) => boolean
  }
  expect(typeof yamuxStream.sendFrame).toBe("function")
  const counter = { updates: 0 }
  const send = yamuxStream.sendFrame
  yamuxStream.sendFrame = (header, data) => {
    if (isPlainWindowUpdate(header)) counter.updates++
    return send(header, data)
  }
  return counter
}

describe("yamux window updates (patched)", () => {
  it.live(`${ROUNDS} request/response rounds of 1 KiB send at most a few window updates`, () =>
    Effect.gen(function* () {
      const client = yield* makeNode
      const server = yield* makeNode
      let serverSide: { updates: number } | undefined
      yield* Effect.promise(() =>
        server.handle(PROTOCOL, (stream) => {
          serverSide = countWindowUpdates(stream)
          stream.addEventListener("message", (event) => {
            stream.send(event.data)
          })
        }),
      )
      const stream = yield* Effect.promise(() =>
        client.dialProtocol(server.getMultiaddrs()[0]!, PROTOCOL),
      )
      const clientSide = countWindowUpdates(stream)
      const request = new Uint8Array(1024).fill(7)
      yield* Effect.promise(async () => {
        for (let round = 0; round < ROUNDS; round++) {
          let received = 0
          await new Promise<void>((resolve) => {
            const onMessage = (event: { data: { byteLength: number } }) => {
              received += event.data.byteLength
              if (received < request.byteLength) return
              stream.removeEventListener("message", onMessage)
              resolve()
            }
            stream.addEventListener("message", onMessage)
            stream.send(request)
          })
        }
      })
      // Unpatched, each side sends one update per received frame: 64 each. Patched, only window
      // growth right after the stream opened can add one or two.
      expect(serverSide).toBeDefined()
      expect(serverSide!.updates).toBeLessThan(8)
      expect(clientSide.updates).toBeLessThan(8)
      yield* Effect.promise(() => stream.close())
    }),
  )
})
