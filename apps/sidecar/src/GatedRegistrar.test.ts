import type { ReadinessProbe, Registration } from "@beemesh/contract"
import { Effect, Exit, Redacted, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { waitFor } from "../test/support/net"
import { type StandInAgent, startStandInAgent } from "../test/support/StandInAgent"
import { AgentClient } from "./AgentClient"
import { makeGatedRegistrar } from "./GatedRegistrar"
import type { ProbeResult } from "./ProbeThresholds"
import { makeReadinessGate } from "./ReadinessGate"

const TOKEN = "token-a-0123456789abcdef"
const registration: Registration.Registration = {
  namespace: "default",
  workload: "web",
  pod: "pod-a",
  peerId: "12D3KooWexample",
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: [{ name: "orders", port: 80 }],
}
const probe: ReadinessProbe.ReadinessProbe = {
  container: "web",
  action: "httpGet",
  port: 80,
  path: "/ready",
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 2,
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A gated registrar whose probe answers what `app.result` holds at each run. */
const start = async (agent: StandInAgent) => {
  const app = { result: { ok: false, message: "HTTP 503" } as ProbeResult, runs: 0 }
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const client = AgentClient.make({
    agentUrl: agent.url,
    podToken: Redacted.make(TOKEN),
    namespace: "default",
    pod: "pod-a",
  })
  const run = () =>
    Effect.sync(() => {
      app.runs++
      return app.result
    })
  const { registrar, gate } = await Effect.runPromise(
    Scope.provide(scope)(
      Effect.gen(function* () {
        const gate = yield* makeReadinessGate([probe], run)
        const registrar = yield* makeGatedRegistrar(client, registration, gate)
        return { registrar, gate }
      }),
    ),
  )
  return { app, registrar, gate, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const kinds = (a: StandInAgent) => a.events.map((e) => e.kind)

describe("GatedRegistrar", () => {
  it("does not register while the readiness probe fails, and says why", async () => {
    const agent = await startStandInAgent({ tokens: { "pod-a": TOKEN } })
    cleanups.push(agent.close)
    const { app, registrar } = await start(agent)
    await waitFor("two probe runs", () => (app.runs >= 2 ? true : undefined))
    expect(kinds(agent)).toEqual([])
    expect(registrar.status()).toMatchObject({
      registered: false,
      lastError: "readiness probe of container web failing: HTTP 503",
    })
  })

  it("registers once ready, withdraws after failureThreshold failures, registers when it passes again", async () => {
    const agent = await startStandInAgent({ tokens: { "pod-a": TOKEN } })
    cleanups.push(agent.close)
    const { app, registrar } = await start(agent)
    app.result = { ok: true, message: "HTTP 200" }
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    expect(kinds(agent)).toEqual(["register"])

    app.result = { ok: false, message: "HTTP 500" }
    const failingFrom = app.runs
    await waitFor("unregistration", () => (kinds(agent).includes("unregister") ? true : undefined))
    // One failure is tolerated (failureThreshold 2): withdrawn on the second.
    expect(app.runs - failingFrom).toBeGreaterThanOrEqual(2)
    expect(registrar.status().registered).toBe(false)
    expect(registrar.status().lastError).toContain("failing: HTTP 500")

    app.result = { ok: true, message: "HTTP 200" }
    await waitFor("registration again", () => (registrar.status().registered ? true : undefined))
    expect(kinds(agent)).toEqual(["register", "unregister", "register"])
  })

  it("unregisters when its scope closes while registered", async () => {
    const agent = await startStandInAgent({ tokens: { "pod-a": TOKEN } })
    cleanups.push(agent.close)
    const { app, registrar, close } = await start(agent)
    app.result = { ok: true, message: "HTTP 200" }
    await waitFor("registration", () => (registrar.status().registered ? true : undefined))
    await close()
    expect(kinds(agent)).toEqual(["register", "unregister"])
  })
})
