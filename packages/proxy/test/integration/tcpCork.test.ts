/**
 * The workspace's patch to @libp2p/tcp (patches/, pnpm `patchedDependencies`): every Noise message
 * a connection writes in one turn of the event loop goes to the socket in one system call at the
 * end of the turn, instead of one call per message (a new proxied connection sends several small
 * frames at once: a stream's SYN and its protocol proposal, data and FIN, frames of other
 * streams). This fails if the patch is dropped, for example by an upgrade that does not carry it.
 */
import * as net from "node:net"
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { makeNode } from "./fixtures.js"

const PROTOCOL = "/beemesh-test/sink/1.0.0"
const MESSAGES = 16

interface Writable {
  remotePort?: number
  _write: (...args: Array<unknown>) => unknown
  _writev: (...args: Array<unknown>) => unknown
}

/** Counts the socket writes (system calls) towards `port` until the returned stop is called. */
const countWrites = (port: number) => {
  const proto = net.Socket.prototype as unknown as Writable
  const write = proto._write
  const writev = proto._writev
  const counter = { writes: 0 }
  proto._write = function (this: Writable, ...args) {
    if (this.remotePort === port) counter.writes++
    return write.apply(this, args)
  }
  proto._writev = function (this: Writable, ...args) {
    if (this.remotePort === port) counter.writes++
    return writev.apply(this, args)
  }
  const stop = () => {
    proto._write = write
    proto._writev = writev
  }
  return { counter, stop }
}

describe("tcp writes (patched)", () => {
  it.live(`${MESSAGES} messages sent in one turn leave in one or two socket writes`, () =>
    Effect.gen(function* () {
      const client = yield* makeNode
      const server = yield* makeNode
      let received = 0
      yield* Effect.promise(() =>
        server.handle(PROTOCOL, (stream) => {
          stream.addEventListener("message", (event) => {
            received += event.data.byteLength
          })
        }),
      )
      const address = server.getMultiaddrs()[0]!
      const stream = yield* Effect.promise(() => client.dialProtocol(address, PROTOCOL))
      const port = Number(address.toString().split("/")[4])
      const spy = countWrites(port)
      yield* Effect.addFinalizer(() => Effect.sync(spy.stop))
      for (let i = 0; i < MESSAGES; i++) stream.send(new Uint8Array(100).fill(i))
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 5000
        while (received < MESSAGES * 100 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5))
      })
      spy.stop()
      expect(received).toBe(MESSAGES * 100)
      // Unpatched: one write per message (16). Patched: one at the end of the turn.
      expect(spy.counter.writes).toBeGreaterThanOrEqual(1)
      expect(spy.counter.writes).toBeLessThanOrEqual(2)
      yield* Effect.promise(() => stream.close())
    }),
  )
})
