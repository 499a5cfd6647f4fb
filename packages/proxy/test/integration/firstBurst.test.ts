import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { makeNode, makeNodeWith } from "./fixtures.js"

const PROTOCOL = "/beemesh-test/burst/1.0.0"
const BURST = 40

/** An acceptor whose side of every inbound connection is ready only after `delayMs`. */
const slowAcceptor = (delayMs: number) =>
  makeNodeWith({
    denyInboundUpgradedConnection: () =>
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), delayMs)),
  })

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
