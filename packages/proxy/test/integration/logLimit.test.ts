/**
 * Refusals the other side repeats at will are logged once per window, then summarised: an app
 * retrying a service in a loop, a peer the door keeps denying (real libp2p nodes, real sockets).
 */
import * as net from "node:net"
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { describe, expect } from "vitest"
import type { Door } from "../../src/index.js"
import { echoApp, type LogLine, makeMesh, startServer } from "./fixtures.js"

const ATTEMPTS = 20

/** One connection that writes and waits for its end; a reset may come before the connect completes. */
const attempt = (port: number) =>
  Effect.promise(
    () =>
      new Promise<{ readonly hadError: boolean }>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write("hello"))
        socket.on("error", () => {})
        socket.on("close", (hadError) => resolve({ hadError }))
      }),
  )

const matching = (logs: ReadonlyArray<LogLine>, level: string, text: string) =>
  logs.filter((l) => l.level === level && l.text.includes(text)).map((l) => l.text)

describe("repeated refusals in the log", () => {
  it.live(
    "a caller denied again and again: one line on each side, then how many more when the window ends",
    () =>
      Effect.gen(function* () {
        const app = yield* startServer(echoApp)
        const door: Door = {
          check: () => ({ reason: "namespace", message: "callers from namespace other may not" }),
        }
        const logs = yield* Effect.scoped(
          Effect.gen(function* () {
            const mesh = yield* makeMesh({
              inbound: { services: { echo: { host: "127.0.0.1", port: app.port } }, door },
            })
            const listener = yield* mesh.listen("echo")
            for (let i = 0; i < ATTEMPTS; i++) {
              const outcome = yield* attempt(listener.port)
              expect(outcome.hadError).toBe(true)
            }
            expect(mesh.clientMetrics.snapshot().outbound.refused).toBe(ATTEMPTS)
            expect(mesh.serverMetrics.snapshot().inbound.refused).toBe(ATTEMPTS)
            // Within the window (10 s): the first of each side only.
            expect(matching(mesh.logs, "Error", "upstream echo")).toHaveLength(1)
            expect(matching(mesh.logs, "Warn", "denied")).toHaveLength(1)
            return mesh.logs
          }),
        )
        // The scope's end closes the windows: each side says how many more there were.
        expect(matching(logs, "Error", "upstream echo")).toEqual([
          expect.stringContaining("upstream echo: denied by policy at provider"),
          `upstream echo: ${ATTEMPTS - 1} more connections ended the same way (CallDenied) in the last 10 s`,
        ])
        const denied = matching(logs, "Warn", "denied")
        expect(denied).toHaveLength(2)
        expect(denied[0]).toContain("denied stream from")
        expect(denied[1]).toMatch(
          new RegExp(`^denied ${ATTEMPTS - 1} more streams from \\S+ in the last 10 s$`),
        )
      }),
  )

  it.live("an app retrying a service without providers: one error, then the count", () =>
    Effect.gen(function* () {
      const logs = yield* Effect.scoped(
        Effect.gen(function* () {
          const mesh = yield* makeMesh({ inbound: {}, table: () => ({ orders: [] }) })
          const listener = yield* mesh.listen("orders")
          for (let i = 0; i < ATTEMPTS; i++) {
            const outcome = yield* attempt(listener.port)
            expect(outcome.hadError).toBe(true)
          }
          expect(matching(mesh.logs, "Error", "upstream orders")).toEqual([
            'upstream orders: no provider is registered for service "orders"',
          ])
          return mesh.logs
        }),
      )
      expect(matching(logs, "Error", "upstream orders")).toEqual([
        'upstream orders: no provider is registered for service "orders"',
        `upstream orders: ${ATTEMPTS - 1} more connections ended the same way (NoProviders) in the last 10 s`,
      ])
    }),
  )
})
