import { createHash, randomBytes } from "node:crypto"
import { it } from "@effect/vitest"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import { PROXY_PROTOCOL, Protocol } from "../../src/index.js"
import {
  connect,
  echoApp,
  makeMesh,
  makeNode,
  providerOf,
  readAll,
  startServer,
  waitFor,
} from "./fixtures.js"

/**
 * A provider written by hand: it collects what arrives on each stream and answers only when
 * `answer` says so, with the bytes it returns (a status frame and whatever follows).
 */
const handProvider = (answer: (received: Buffer) => Uint8Array | undefined) =>
  Effect.gen(function* () {
    const node = yield* makeNode
    const seen: Buffer[] = []
    yield* Effect.promise(() =>
      node.handle(PROXY_PROTOCOL, (stream: Stream) => {
        let received = Buffer.alloc(0)
        let answered = false
        stream.addEventListener("message", (event) => {
          received = Buffer.concat([received, Buffer.from(event.data.subarray())])
          const reply = answered ? undefined : answer(received)
          if (reply === undefined) return
          answered = true
          seen.push(received)
          stream.send(reply)
          stream.close().catch(() => {})
        })
      }),
    )
    return { node, seen }
  })

const status = (code: Protocol.StatusCode, reason = "") => Protocol.encodeStatus({ code, reason })
const request = Protocol.encodeRequest({ _tag: "Service", name: "echo" })

describe("early data (the caller's bytes sent ahead of the provider's status)", () => {
  it.live("the caller's first bytes follow the request before the provider has answered", () =>
    Effect.gen(function* () {
      // This provider answers only once the caller's bytes have arrived: a caller that waited
      // for the status first would never be answered.
      const provider = yield* handProvider((received) =>
        received.byteLength >= request.byteLength + 5
          ? Buffer.concat([status(Protocol.StatusCode.Ok), Buffer.from("world")])
          : undefined,
      )
      const mesh = yield* makeMesh({
        inbound: {},
        table: () => ({ echo: [providerOf(provider.node)] }),
        outbound: { connectTimeoutMs: 2000 },
      })
      const listener = yield* mesh.listen("echo")
      const reply = yield* Effect.promise(async () => {
        const socket = await connect(listener.port)
        socket.write("hello")
        return (await readAll(socket)).toString()
      })
      expect(reply).toBe("world")
      expect(provider.seen.map((b) => b.toString("latin1"))).toEqual([
        `${Buffer.from(request).toString("latin1")}hello`,
      ])
      expect(mesh.clientMetrics.snapshot().outbound.bytesOut).toBe(5)
    }),
  )

  it.live("a caller that waits for the server to speak first is connected all the same", () =>
    Effect.gen(function* () {
      const app = yield* startServer((socket) => {
        socket.write("220 ready\n")
        socket.pipe(socket)
      })
      const mesh = yield* makeMesh({
        inbound: { services: { smtp: { host: "127.0.0.1", port: app.port } } },
        outbound: { readyStreams: 2 },
      })
      const listener = yield* mesh.listen("smtp")
      const transcript = yield* Effect.promise(async () => {
        const out: string[] = []
        for (let i = 0; i < 3; i++) {
          const socket = await connect(listener.port)
          const greeting = await new Promise<string>((resolve) =>
            socket.once("data", (chunk: Buffer) => resolve(chunk.toString())),
          )
          socket.end(`QUIT ${i}\n`)
          out.push(greeting + (await readAll(socket)).toString())
        }
        return out
      })
      expect(transcript).toEqual([
        "220 ready\nQUIT 0\n",
        "220 ready\nQUIT 1\n",
        "220 ready\nQUIT 2\n",
      ])
    }),
  )

  it.live(
    "a provider that refuses after the bytes went ahead: the next one gets all of them, once; no more than the bound ran ahead",
    () =>
      Effect.gen(function* () {
        const earlyDataBytes = 16 * 1024
        const app = yield* startServer(echoApp)
        // Refuses once it has received the request and at least the bound's worth of bytes.
        const refusing = yield* handProvider((received) =>
          received.byteLength >= request.byteLength + earlyDataBytes
            ? status(Protocol.StatusCode.Overloaded, "busy")
            : undefined,
        )
        const mesh = yield* makeMesh({
          inbound: { services: { echo: { host: "127.0.0.1", port: app.port } } },
          table: (server) => ({ echo: [providerOf(refusing.node), providerOf(server)] }),
          outbound: { earlyDataBytes },
        })
        const listener = yield* mesh.listen("echo")
        const payload = randomBytes(1024 * 1024)
        const echoed = yield* Effect.promise(async () => {
          const socket = await connect(listener.port)
          socket.end(payload)
          return readAll(socket)
        })
        const digest = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")
        expect(echoed.byteLength).toBe(payload.byteLength)
        expect(digest(echoed)).toBe(digest(payload))
        yield* Effect.promise(() => waitFor("the refusal", () => refusing.seen.length === 1))
        const ahead = refusing.seen[0]!.byteLength - request.byteLength
        expect(ahead).toBeGreaterThanOrEqual(earlyDataBytes)
        // The socket is paused at the bound; one more read of at most 64 KiB may be in flight.
        expect(ahead).toBeLessThanOrEqual(earlyDataBytes + 64 * 1024)
        expect(refusing.seen[0]!.subarray(request.byteLength)).toEqual(payload.subarray(0, ahead))
        expect(mesh.logs.some((l) => l.level === "Warn" && l.text.includes("Overloaded"))).toBe(
          true,
        )
      }),
  )
})
