/**
 * The standby warm-up in this process: real throwaway sidecars on 127.0.0.1 (libp2p nodes with a
 * mesh key and certificates, the proxy, an echo app), what they leave behind, and its bounds.
 */
import * as net from "node:net"
import { Effect, Fiber, Logger } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { waitFor } from "../test/support/net"
import {
  bounded,
  rehearseFirstConnection,
  standingBy,
  WarmUpCallFailed,
  warmUp,
} from "./StandbyWarmUp"

const logs: Array<string> = []
afterEach(() => {
  logs.length = 0
})

const run = (effect: Effect.Effect<void>) =>
  Effect.runPromise(
    effect.pipe(
      Effect.provide(
        Logger.layer([
          Logger.make(({ message }) => logs.push([message].flat().map(String).join(" "))),
        ]),
      ),
    ),
  )

/** Handles and requests by kind (`process.getActiveResourcesInfo`), e.g. `{ TCPServerWrap: 1 }`. */
const resources = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/** What is held now beyond `before` (kinds whose count grew), or undefined when nothing is. */
const heldBeyond = (before: Record<string, number>) => {
  const now = resources()
  const grown = Object.keys(now).filter((kind) => (now[kind] ?? 0) > (before[kind] ?? 0))
  return grown.length === 0 ? undefined : grown.map((kind) => `${kind} ×${now[kind]}`).join(", ")
}

/**
 * Waits until nothing the warm-up opened is held any more. Sockets and listeners close within a
 * few event-loop turns; libp2p's inbound rate limiter leaves a 1 s timer of its own running.
 */
const nothingLeftBeyond = (before: Record<string, number>) =>
  waitFor("the warm-up's handles to close", () =>
    heldBeyond(before) === undefined ? true : undefined,
  ).catch(() => {
    throw new Error(`still held after the warm-up: ${heldBeyond(before)}`)
  })

/**
 * The host of a `connect` or `listen` call: `(port, host)`, `({ host, port })`, or (from
 * `net.connect`) the normalized `[options, callback]`; a unix socket shows as its path.
 */
const hostOf = (args: ReadonlyArray<unknown>): string => {
  const [first, second] = args
  const options = Array.isArray(first) ? first[0] : first
  if (typeof options !== "object" || options === null) return String(second)
  const { host, path } = options as { host?: string; path?: string }
  return String(host ?? path ?? "(no host: every address)")
}

describe("the standby warm-up", () => {
  it("calls through two throwaway sidecars, then leaves no listener, socket or timer", async () => {
    const before = resources()
    await run(warmUp())
    expect(logs).toEqual([expect.stringMatching(/^standby warm-up done in \d+ ms$/)])
    await nothingLeftBeyond(before)
  }, 20_000)

  it("connects to nothing but 127.0.0.1, and listens on nothing else", async () => {
    const connected: Array<string> = []
    const listened: Array<string> = []
    const connect = net.Socket.prototype.connect
    const listen = net.Server.prototype.listen
    net.Socket.prototype.connect = function (this: net.Socket, ...args: Array<unknown>) {
      connected.push(hostOf(args))
      return (connect as (...a: Array<unknown>) => net.Socket).apply(this, args)
    } as typeof connect
    net.Server.prototype.listen = function (this: net.Server, ...args: Array<unknown>) {
      listened.push(hostOf(args))
      return (listen as (...a: Array<unknown>) => net.Server).apply(this, args)
    } as typeof listen
    try {
      await run(warmUp())
    } finally {
      net.Socket.prototype.connect = connect
      net.Server.prototype.listen = listen
    }
    expect(logs[0]).toMatch(/^standby warm-up done/)
    // The two upstream calls and the dial between the nodes, at least; the app's too.
    expect(connected.length).toBeGreaterThanOrEqual(3)
    expect(new Set(connected)).toEqual(new Set(["127.0.0.1"]))
    expect(listened.length).toBeGreaterThanOrEqual(4)
    expect(new Set(listened)).toEqual(new Set(["127.0.0.1"]))
  }, 20_000)

  it.each([1, 30, 80, 150, 300])(
    "cut short after %i ms: logged, nothing left behind",
    async (timeoutMs) => {
      const before = resources()
      const started = performance.now()
      await run(bounded(rehearseFirstConnection, timeoutMs))
      // The bound, then closing what was opened (a node's stop is bounded at 500 ms).
      expect(performance.now() - started).toBeLessThan(timeoutMs + 1500)
      expect(logs).toHaveLength(1)
      expect(logs[0]).toMatch(
        new RegExp(`^standby warm-up (cut short after ${timeoutMs} ms|done in \\d+ ms)`),
      )
      await nothingLeftBeyond(before)
    },
    20_000,
  )

  it("a warm-up that hangs is cut short at its bound", async () => {
    const started = performance.now()
    await run(bounded(Effect.never, 100))
    expect(performance.now() - started).toBeLessThan(1000)
    expect(logs).toEqual(["standby warm-up cut short after 100 ms (ignored)"])
  })

  it("a failure inside it is logged and swallowed", async () => {
    await run(bounded(Effect.fail(new WarmUpCallFailed({ port: 1, reason: "reset" }))))
    await run(bounded(Effect.die(new Error("a broken invariant"))))
    expect(logs).toEqual([
      expect.stringMatching(
        /^standby warm-up failed after \d+ ms \(ignored\): the call through the throwaway upstream 127\.0\.0\.1:1 failed: reset$/,
      ),
      expect.stringMatching(
        /^standby warm-up failed after \d+ ms \(ignored\): a broken invariant$/,
      ),
    ])
  })

  it("standing by: warms up, then holds until the claim interrupts it, leaving nothing behind", async () => {
    const before = resources()
    const fiber = Effect.runFork(
      standingBy().pipe(
        Effect.provide(
          Logger.layer([
            Logger.make(({ message }) => logs.push([message].flat().map(String).join(" "))),
          ]),
        ),
      ),
    )
    await waitFor("the warm-up", () => (logs.length > 0 ? true : undefined))
    expect(logs).toEqual([expect.stringMatching(/^standby warm-up done in \d+ ms$/)])
    expect(fiber.pollUnsafe()).toBeUndefined()
    await Effect.runPromise(Fiber.interrupt(fiber))
    await nothingLeftBeyond(before)
  }, 20_000)

  it("standing by: a claim answered within the first 250 ms comes before any warm-up", async () => {
    const before = resources()
    const fiber = Effect.runFork(standingBy())
    await new Promise((resolve) => setTimeout(resolve, 100))
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(logs).toEqual([])
    expect(heldBeyond(before)).toBeUndefined()
  })

  it("interrupted from outside (the claim came first): closes what it opened, logs nothing", async () => {
    const before = resources()
    await run(
      bounded(rehearseFirstConnection).pipe(Effect.timeoutOption(5), Effect.andThen(Effect.void)),
    )
    expect(logs).toEqual([])
    await nothingLeftBeyond(before)
  }, 20_000)
})
