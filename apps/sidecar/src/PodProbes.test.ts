import type { ProbeReport, ReadinessProbe } from "@beemesh/contract"
import { describe, expect, it } from "@effect/vitest"
import { Effect, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import type { AgentClientShape } from "./AgentClient"
import { startPodProbes } from "./PodProbes"

const exec = (
  container: string,
  timing: Partial<ReadinessProbe.ExecProbe> = {},
): ReadinessProbe.ReadinessProbe => ({
  container,
  action: "exec",
  command: ["test", "-f", `/tmp/${container}`],
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
  ...timing,
})

/** An agent that answers each exec probe from `passing` and records every failure report. */
const fakeAgent = () => {
  const passing = new Set<string>()
  const runs: Array<ProbeReport.ExecRequest> = []
  const failures: Array<ProbeReport.ProbeFailure> = []
  const client: Pick<AgentClientShape, "execProbe" | "probeFailed"> = {
    execProbe: (request) =>
      Effect.sync(() => {
        runs.push(request)
        const key = `${request.probe}/${request.container}`
        return passing.has(key)
          ? { ok: true, message: "exit code 0" }
          : { ok: false, message: `exit code 1 (${key})` }
      }),
    probeFailed: (failure) => Effect.sync(() => void failures.push(failure)),
  }
  return { client, passing, runs, failures }
}

/** Lets the probe fibers run at the current test time. */
const turn = Effect.gen(function* () {
  for (let i = 0; i < 5; i++) yield* Effect.yieldNow
})
const seconds = (n: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < n; i++) {
      yield* TestClock.adjust("1 second")
      yield* turn
    }
  })

describe("the pod's probes", () => {
  it.effect(
    "a liveness probe is reported once it failed failureThreshold times in a row, and again after as many",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const agent = fakeAgent()
          const gate = yield* startPodProbes(
            { readiness: [], liveness: [exec("app")], startup: [] },
            agent.client,
          )
          expect(gate).toBeUndefined()
          yield* turn
          yield* seconds(1)
          expect(agent.failures).toEqual([])
          yield* seconds(1)
          expect(agent.failures).toEqual([
            {
              probe: "liveness",
              container: "app",
              message: expect.stringContaining("exit code 1"),
            },
          ])
          yield* seconds(3)
          expect(agent.failures).toHaveLength(2)
        }),
      ),
  )

  it.effect("a liveness probe that passes in between is never reported", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const agent = fakeAgent()
        yield* startPodProbes({ readiness: [], liveness: [exec("app")], startup: [] }, agent.client)
        yield* turn
        yield* seconds(1)
        agent.passing.add("liveness/app")
        yield* seconds(1)
        agent.passing.delete("liveness/app")
        yield* seconds(1)
        expect(agent.failures).toEqual([])
      }),
    ),
  )

  it.effect(
    "a startup probe holds liveness and readiness off until it passes: no liveness run, not ready, and the reason says so",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const agent = fakeAgent()
          const gate = yield* startPodProbes(
            {
              readiness: [exec("app")],
              liveness: [exec("app")],
              startup: [exec("app", { failureThreshold: 30 })],
            },
            agent.client,
          )
          agent.passing.add("readiness/app")
          yield* turn
          yield* seconds(10)
          expect(agent.runs.every((r) => r.probe === "startup")).toBe(true)
          expect(agent.failures).toEqual([])
          expect(yield* SubscriptionRef.get(gate!.ready)).toBe(false)
          expect(gate!.reasons().join()).toMatch(/startup probe of container app failing/)

          agent.passing.add("startup/app")
          yield* seconds(2)
          expect(yield* SubscriptionRef.get(gate!.ready)).toBe(true)
          expect(agent.runs.some((r) => r.probe === "liveness")).toBe(true)
          // Liveness fails from now on: reported after its own threshold.
          yield* seconds(3)
          expect(agent.failures.map((f) => f.probe)).toEqual(["liveness"])
        }),
      ),
  )

  it.effect(
    "a startup probe that fails failureThreshold times is reported (the agent restarts the replica)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const agent = fakeAgent()
          yield* startPodProbes(
            { readiness: [], liveness: [], startup: [exec("app", { failureThreshold: 2 })] },
            agent.client,
          )
          yield* turn
          yield* seconds(1)
          expect(agent.failures).toEqual([
            { probe: "startup", container: "app", message: expect.stringContaining("exit code 1") },
          ])
        }),
      ),
  )

  it.effect("with only startup probes the pod becomes ready once they passed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const agent = fakeAgent()
        const gate = yield* startPodProbes(
          { readiness: [], liveness: [], startup: [exec("app")] },
          agent.client,
        )
        yield* turn
        expect(yield* SubscriptionRef.get(gate!.ready)).toBe(false)
        agent.passing.add("startup/app")
        yield* seconds(1)
        expect(yield* SubscriptionRef.get(gate!.ready)).toBe(true)
        expect(gate!.reasons()).toEqual([])
      }),
    ),
  )

  it.effect("an exec probe the agent could not run fails with the agent's reason", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const failures: Array<ProbeReport.ProbeFailure> = []
        const client: Pick<AgentClientShape, "execProbe" | "probeFailed"> = {
          execProbe: () =>
            Effect.fail({
              _tag: "AgentUnreachable",
              message: "agent unreachable: connection refused",
            } as never),
          probeFailed: (failure) => Effect.sync(() => void failures.push(failure)),
        }
        yield* startPodProbes(
          { readiness: [], liveness: [exec("app", { failureThreshold: 1 })], startup: [] },
          client,
        )
        yield* turn
        expect(failures[0]?.message).toMatch(/the agent did not run it: agent unreachable/)
      }),
    ),
  )
})
