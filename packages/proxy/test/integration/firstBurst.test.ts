/**
 * A burst of streams on a new connection: the dialler opens them as soon as its side of the
 * connection is up, and they reach the acceptor before its side is (its connection gater, for
 * example a membership check, still runs). yamux holds such "early" streams and by default aborts
 * the whole connection at the 11th: 10 concurrent first calls from a pod to a provider all failed.
 * `proxyYamuxOptions.maxEarlyStreams` lifts that bound.
 */
import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { it } from "@effect/vitest"
import { tcp } from "@libp2p/tcp"
import { Effect } from "effect"
import { createLibp2p } from "libp2p"
import { describe, expect } from "vitest"
import { proxyConnectionManagerOptions, proxyYamuxOptions } from "../../src/index.js"
import { makeNode } from "./fixtures.js"

const PROTOCOL = "/beemesh-test/burst/1.0.0"
const BURST = 40

/** An acceptor whose side of every inbound connection is ready only after `delayMs`. */
const slowAcceptor = (delayMs: number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      createLibp2p({
        addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux(proxyYamuxOptions)],
        connectionManager: proxyConnectionManagerOptions,
        connectionGater: {
          denyInboundUpgradedConnection: () =>
            new Promise<boolean>((resolve) => setTimeout(() => resolve(false), delayMs)),
        },
      }),
    ),
    (node) => Effect.promise(async () => node.stop()),
  )

describe("a burst of streams on a new connection", () => {
  it.live(`${BURST} streams opened at once, before the acceptor's side is up, all succeed`, () =>
    Effect.gen(function* () {
      const server = yield* slowAcceptor(200)
      const client = yield* makeNode
      yield* Effect.promise(() =>
        server.handle(
          PROTOCOL,
          (stream) => {
            stream.addEventListener("message", (event) => {
              stream.send(event.data)
              stream.close().catch(() => {})
            })
          },
          { maxInboundStreams: BURST + 1 },
        ),
      )
      const connection = yield* Effect.promise(() => client.dial(server.getMultiaddrs()[0]!))
      const replies = yield* Effect.promise(() =>
        Promise.all(
          Array.from({ length: BURST }, async (_, i) => {
            const stream = await connection.newStream(PROTOCOL, {
              signal: AbortSignal.timeout(5000),
            })
            const reply = new Promise<string>((resolve) =>
              stream.addEventListener("message", (event) =>
                resolve(new TextDecoder().decode(event.data.subarray())),
              ),
            )
            stream.send(new TextEncoder().encode(`request ${i}`))
            return reply
          }),
        ),
      )
      expect(replies).toEqual(Array.from({ length: BURST }, (_, i) => `request ${i}`))
      expect(connection.status).toBe("open")
    }),
  )
})
