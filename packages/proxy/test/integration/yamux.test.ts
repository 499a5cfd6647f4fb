/**
 * The workspace's patch to @chainsafe/libp2p-yamux (patches/, pnpm `patchedDependencies`): a
 * stream grants receive window once at least half of it was consumed, instead of one window
 * update per data frame. On a request/response path the per-frame updates doubled the messages
 * (each one a Noise message and a socket write both ways). And the window grows (doubles, up to
 * the maximum) only when an update is due anyway, as in go-yamux: growing first granted the new
 * half at once, about six updates on the first frames of every stream, even one that carries a few
 * hundred bytes. This fails if the patch is dropped, for example by a yamux upgrade that does not
 * carry it.
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

/**
 * Counts the plain window updates a (yamux) stream sends from now on. With `rttMs`, the stream
 * sees that round-trip time instead of the one its muxer measured by ping (on loopback, 0–1 ms as
 * `Date.now()` counts it; between pods on a busy host, milliseconds).
 */
const countWindowUpdates = (stream: Stream, rttMs?: number) => {
  const yamuxStream = stream as unknown as {
    sendFrame: (header: { type: number; flag: number }, data?: unknown) => boolean
    getRTT: () => number
  }
  expect(typeof yamuxStream.sendFrame).toBe("function")
  expect(typeof yamuxStream.getRTT).toBe("function")
  if (rttMs !== undefined) yamuxStream.getRTT = () => rttMs
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

  it.live("short streams (one small request and reply each) send no window update at all", () =>
    Effect.gen(function* () {
      const client = yield* makeNode
      const server = yield* makeNode
      const serverSides: Array<{ updates: number }> = []
      yield* Effect.promise(() =>
        server.handle(PROTOCOL, (stream) => {
          serverSides.push(countWindowUpdates(stream, 50))
          stream.addEventListener("message", (event) => {
            stream.send(event.data)
          })
        }),
      )
      const connection = yield* Effect.promise(() => client.dial(server.getMultiaddrs()[0]!))
      const clientSides: Array<{ updates: number }> = []
      const request = new Uint8Array(512).fill(7)
      for (let i = 0; i < 20; i++) {
        yield* Effect.promise(async () => {
          const stream = await connection.newStream(PROTOCOL)
          clientSides.push(countWindowUpdates(stream, 50))
          let received = 0
          await new Promise<void>((resolve) => {
            stream.addEventListener("message", (event) => {
              received += event.data.byteLength
              if (received >= request.byteLength) resolve()
            })
            stream.send(request)
          })
          await stream.close()
        })
      }
      expect(serverSides).toHaveLength(20)
      const total = (sides: Array<{ updates: number }>) => sides.reduce((n, s) => n + s.updates, 0)
      // Unpatched order (grow, then check): a frame within four round trips of the stream's
      // start doubles the window and grants the new half, on every one of these streams.
      expect(total(serverSides)).toBe(0)
      expect(total(clientSides)).toBe(0)
    }),
  )
})
