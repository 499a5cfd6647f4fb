import type { Registration, Traffic } from "@beemesh/contract"
import { Deferred, Effect, Exit, Logger, Redacted, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { freePort, waitFor } from "../test/support/net"
import { type StandInAgent, startStandInAgent } from "../test/support/StandInAgent"
import { AgentClient } from "./AgentClient"
import { Registrar, type RegistrarShape, renewalTimeoutMs } from "./Registrar"

const TOKEN = "token-a-0123456789abcdef"
const registration: Registration.Registration = {
  namespace: "default",
  workload: "web",
  pod: "pod-a",
  peerId: "12D3KooWexample",
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: [{ name: "orders", port: 80 }],
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const startAgent = async (
  options: { port?: number; ttlSeconds?: number; renewAfterSeconds?: number } = {},
) => {
  const a = await startStandInAgent({ tokens: { "pod-a": TOKEN }, ...options })
  cleanups.push(a.close)
  return a
}

/** Starts a registrar in its own scope; `close` runs its release (unregister). */
const startRegistrar = async (
  url: string,
  token = TOKEN,
  traffic?: () => Traffic.TrafficReport,
  warnings?: Array<string>,
) => {
  const scope = Effect.runSync(Scope.make())
  const client = AgentClient.make({
    agentUrl: url,
    podToken: Redacted.make(token),
    namespace: "default",
    pod: "pod-a",
  })
  // The registrar's warnings, when asked for.
  const logger = Logger.make(({ message, logLevel }) => {
    if (logLevel === "Warn") warnings?.push([message].flat().map(String).join(" "))
  })
  const registrar: RegistrarShape = await Effect.runPromise(
    Scope.provide(scope)(
      Registrar.make(client, registration, {
        initialBackoffMs: 20,
        maxBackoffMs: 200,
        ...(traffic === undefined ? {} : { traffic }),
      }),
    ).pipe(warnings === undefined ? (e) => e : Effect.provide(Logger.layer([logger]))),
  )
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  cleanups.push(close)
  return { registrar, close }
}

const kinds = (a: StandInAgent) => a.events.map((e) => e.kind)

describe("Registrar", () => {
  it("retries with backoff until the agent answers, then registers", async () => {
    const port = await freePort()
    const { registrar } = await startRegistrar(`http://127.0.0.1:${port}`)
    await waitFor("a failed attempt", () => (registrar.status().failures >= 2 ? true : undefined))
    expect(registrar.status().registered).toBe(false)
    const a = await startAgent({ port })
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    expect(kinds(a)).toEqual(["register"])
    expect(registrar.status().lastError).toBeUndefined()
  })

  it("retries through the agent's 503s", async () => {
    const a = await startAgent()
    a.failNext(3, 503)
    const { registrar } = await startRegistrar(a.url)
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    expect(kinds(a)).toEqual(["rejected", "rejected", "rejected", "register"])
    expect(registrar.status().failures).toBe(3)
  })

  it("renews before the lease runs out", async () => {
    const a = await startAgent({ ttlSeconds: 1, renewAfterSeconds: 0.1 })
    const { registrar } = await startRegistrar(a.url)
    // The agent sees a renewal before the registrar has read its answer: wait for both sides.
    await waitFor("two renewals, answered", () =>
      kinds(a).filter((k) => k === "renew").length >= 2 && registrar.status().renewals >= 2
        ? true
        : undefined,
    )
    expect(kinds(a)[0]).toBe("register")
    expect(registrar.status().renewals).toBeGreaterThanOrEqual(2)
    expect(registrar.status().registered).toBe(true)
  })

  /**
   * Registers against an agent whose next `slow` renewals are answered `lateMs` late, and waits
   * for the first renewal that succeeds; the registrar's warnings are kept.
   */
  const renewedLate = async (ttlSeconds: number, slow: number, lateMs: number) => {
    const a = await startAgent({ ttlSeconds, renewAfterSeconds: 0.2 })
    const warnings: Array<string> = []
    const { registrar } = await startRegistrar(a.url, TOKEN, undefined, warnings)
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    a.slowNext(slow, lateMs)
    await waitFor(
      "a renewal answered",
      () => (registrar.status().renewals >= 1 ? true : undefined),
      15_000,
    )
    return { a, registrar, warnings }
  }

  it("waits for a slow renewal's answer up to half the lease left, rather than giving up at 3 s", async () => {
    // The first renewal is answered 4 s late: past the client's 3 s, within half the lease left.
    const { a, registrar, warnings } = await renewedLate(12, 1, 4000)
    expect(registrar.status().failures).toBe(0)
    expect(kinds(a).slice(0, 2)).toEqual(["register", "renew"])
    expect(warnings).toEqual([expect.stringMatching(/^renewal answered after 4\d{3} ms$/)])
  })

  it("says so when a renewal is answered only after its lease ran out", async () => {
    // A 6 s lease: both attempts wait 3 s (half of what is left is less), both answered too late.
    const { registrar, warnings } = await renewedLate(6, 2, 3_500)
    expect(registrar.status().failures).toBe(2)
    expect(warnings.filter((w) => !w.startsWith("registration failed"))).toEqual([
      expect.stringMatching(/^renewed \d+\.\d s after the lease ran out/),
    ])
  })

  it("renewalTimeoutMs: half of the lease left, or the client's own timeout when that is longer", () => {
    const now = 1_000_000
    expect(renewalTimeoutMs(0, now)).toBeUndefined()
    expect(renewalTimeoutMs(now + 20_000, now)).toBe(10_000)
    expect(renewalTimeoutMs(now + 7_001, now)).toBe(3_500)
    expect(renewalTimeoutMs(now + 6_000, now)).toBeUndefined()
    expect(renewalTimeoutMs(now - 1, now)).toBeUndefined()
  })

  it("sends the traffic report as it is at each renewal", async () => {
    const a = await startAgent({ ttlSeconds: 1, renewAfterSeconds: 0.1 })
    let reports = 0
    const traffic = (): Traffic.TrafficReport => {
      reports++
      return {
        version: 1,
        entries: [
          {
            direction: "outbound",
            service: "orders",
            callee: "orders",
            connections: reports,
            bytesSent: 10 * reports,
            bytesReceived: 0,
            errors: 0,
            refused: 0,
            setupBuckets: Array(14).fill(0),
            setupSumSeconds: 0,
          },
        ],
      }
    }
    const { registrar } = await startRegistrar(a.url, TOKEN, traffic)
    await waitFor("two renewals", () => (registrar.status().renewals >= 2 ? true : undefined))
    const sent = a.registrations.get("pod-a")?.traffic?.entries[0]
    expect(sent?.connections).toBeGreaterThanOrEqual(3)
    expect(sent?.bytesSent).toBe(10 * (sent?.connections ?? 0))
  })

  it("unregisters when its scope closes", async () => {
    const a = await startAgent()
    const { registrar, close } = await startRegistrar(a.url)
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    await close()
    expect(kinds(a)).toEqual(["register", "unregister"])
    expect(a.registrations.size).toBe(0)
    expect(registrar.status().registered).toBe(false)
  })

  it("does not unregister if it never registered", async () => {
    const port = await freePort()
    const { close } = await startRegistrar(`http://127.0.0.1:${port}`)
    await close()
    const a = await startAgent({ port })
    expect(kinds(a)).toEqual([])
  })

  it("signals a refusal (401) instead of retrying forever", async () => {
    const a = await startAgent()
    const { registrar } = await startRegistrar(a.url, "wrong-token-0123456789")
    const refusal = await Effect.runPromise(Deferred.await(registrar.refused))
    expect(refusal.status).toBe(401)
    expect(registrar.status().registered).toBe(false)
    expect(registrar.status().failures).toBe(1)
  })
})
