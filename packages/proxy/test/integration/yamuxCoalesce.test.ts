/**
 * The workspace's patch to @chainsafe/libp2p-yamux (patches/, pnpm `patchedDependencies`): the
 * small frames a connection's streams send in one turn of the event loop (a new stream's SYN and
 * its protocol proposal, an ACK and the protocol's answer, data and FIN, frames of several
 * streams) leave as one message of the connection underneath, one Noise message, instead of one
 * message per frame: one encryption at the sender and one decryption and dispatch at the remote.
 * This fails if the patch is dropped, for example by a yamux upgrade that does not carry it.
 */
import { it } from "@effect/vitest"
import type { Connection } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { makeNode } from "./fixtures.js"

const PROTOCOL = "/beemesh-test/sink/1.0.0"
const STREAMS = 16
const BYTES = 100

/** Counts the messages the connection's muxer hands to the (Noise) connection underneath. */
const countMuxerMessages = (connection: Connection) => {
  const muxer = (connection as unknown as { muxer?: { send: (data: unknown) => boolean } }).muxer
  expect(typeof muxer?.send).toBe("function")
  const target = muxer as { send: (data: unknown) => boolean }
  const send = target.send
  const counter = { messages: 0 }
  target.send = function (this: unknown, data: unknown) {
    counter.messages++
    return send.call(this, data)
  }
  const stop = () => {
    target.send = send
  }
  return { counter, stop }
}

describe("yamux frames of one turn (patched)", () => {
  it.live(`data frames of ${STREAMS} streams sent in one turn leave in one message`, () =>
    Effect.gen(function* () {
      const client = yield* makeNode
      const server = yield* makeNode
      let received = 0
      yield* Effect.promise(() =>
        server.handle(
          PROTOCOL,
          (stream) => {
            stream.addEventListener("message", (event) => {
              received += event.data.byteLength
            })
          },
          { maxInboundStreams: STREAMS * 2 },
        ),
      )
      const address = server.getMultiaddrs()[0]!
      const streams = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: STREAMS }, () =>
            client.dialProtocol(address, PROTOCOL, { maxOutboundStreams: STREAMS * 2 }),
          ),
        ),
      )
      const connection = client.getConnections(server.peerId)[0]!
      const spy = countMuxerMessages(connection)
      yield* Effect.addFinalizer(() => Effect.sync(spy.stop))
      for (const stream of streams) stream.send(new Uint8Array(BYTES).fill(1))
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (received < STREAMS * BYTES && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5))
      })
      spy.stop()
      expect(received).toBe(STREAMS * BYTES)
      // Unpatched: one message per data frame (16). Patched: one for the turn.
      expect(spy.counter.messages).toBe(1)
      yield* Effect.promise(() => Promise.all(streams.map((stream) => stream.close())))
    }),
  )
})
