import type { ReadinessProbe } from "@beemesh/contract"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { Workload } from "../Manifest"
import type { ReplicaStatus } from "../Workloads"
import type { CommandOutcome, CommandRunner } from "./ReplicaProbes"
import { deployment, makeFakeHost, startDeployer } from "./testing"

const HOUR = 60 * 60_000
const identity = { namespace: "shop", workload: "web", pod: "web-0" }

const exec = (
  command: ReadonlyArray<string>,
  timeoutSeconds = 1,
): ReadinessProbe.ReadinessProbe => ({
  container: "app",
  action: "exec",
  command,
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds,
  successThreshold: 1,
  failureThreshold: 3,
})

/** A one-replica Deployment whose app container has these probes. */
const probed = (probes: {
  readonly readinessProbe?: ReadinessProbe.ReadinessProbe
  readonly livenessProbe?: ReadinessProbe.ReadinessProbe
}): Workload => {
  const base = deployment("web", 1)
  return { ...base, containers: base.containers.map((c) => ({ ...c, ...probes })) }
}

/** Runs commands by answering `outcome`, recording the argument vectors. */
const recording = (outcome: CommandOutcome) => {
  const ran: Array<ReadonlyArray<string>> = []
  const runCommand: CommandRunner = (argv) =>
    Effect.sync(() => {
      ran.push(argv)
      return outcome
    })
  return { ran, runCommand }
}

/** One turn of the event loop (creating a pod allocates a real host port: real I/O). */
const turn = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

describe("exec probes, run by the agent", () => {
  it.effect(
    "run the manifest's command in the app container through nsenter, and pass on exit 0",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const commands = recording({ exitCode: 0, timedOut: false, output: "" })
          const { manager, probes } = yield* startDeployer(host, undefined, commands)
          yield* manager.apply([probed({ readinessProbe: exec(["test", "-f", "/tmp/ready"]) })])
          const result = yield* probes.exec(identity, { probe: "readiness", container: "app" })
          expect(result).toEqual({
            ok: true,
            message: "exited 0",
          })
          const [argv] = commands.ran
          expect(argv?.[0]).toBe("nsenter")
          expect(argv).toContain("--all")
          expect(argv?.slice(-3)).toEqual(["test", "-f", "/tmp/ready"])
        }),
      ),
  )

  it.effect("fail with the exit code and the output's tail, or as timed out", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        let outcome: CommandOutcome = { exitCode: 1, timedOut: false, output: "no such file\n" }
        const { manager, probes } = yield* startDeployer(host, undefined, {
          runCommand: () => Effect.sync(() => outcome),
        })
        yield* manager.apply([probed({ readinessProbe: exec(["cat", "/tmp/ready"], 2) })])
        const request = { probe: "readiness", container: "app" } as const
        expect(yield* probes.exec(identity, request)).toEqual({
          ok: false,
          message: "exited with code 1: no such file",
        })
        outcome = { exitCode: undefined, timedOut: true, output: "" }
        expect((yield* probes.exec(identity, request)).message).toMatch(
          /did not finish within 2s \(timeoutSeconds\); killed/,
        )
      }),
    ),
  )

  it.effect(
    "never run a command the manifest does not have: an unknown probe or container is ProbeNotFound",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const commands = recording({ exitCode: 0, timedOut: false, output: "" })
          const { manager, probes } = yield* startDeployer(host, undefined, commands)
          yield* manager.apply([probed({ readinessProbe: exec(["true"]) })])
          for (const [probe, container] of [
            ["liveness", "app"],
            ["readiness", "sidecar"],
          ] as const) {
            const exit = yield* Effect.exit(probes.exec(identity, { probe, container }))
            expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/ProbeNotFound/)
          }
          const other = yield* Effect.exit(
            probes.exec({ ...identity, pod: "web-9" }, { probe: "readiness", container: "app" }),
          )
          expect(Exit.isFailure(other)).toBe(true)
          expect(commands.ran).toEqual([])
        }),
      ),
  )

  it.effect(
    "at most maxInFlight at once: a probe that waits past its timeout for a slot fails",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const release = yield* Deferred.make<void>()
          let running = 0
          const { manager, probes } = yield* startDeployer(host, undefined, {
            maxInFlight: 1,
            runCommand: () =>
              Effect.gen(function* () {
                running += 1
                yield* Deferred.await(release)
                return { exitCode: 0, timedOut: false, output: "" }
              }),
          })
          yield* manager.apply([probed({ readinessProbe: exec(["sleep", "1"], 5) })])
          const request = { probe: "readiness", container: "app" } as const
          const first = yield* probes.exec(identity, request).pipe(Effect.forkChild)
          const second = yield* probes.exec(identity, request).pipe(Effect.forkChild)
          for (let i = 0; i < 10; i++) yield* turn
          expect(running).toBe(1)
          yield* TestClock.adjust("5 seconds")
          expect((yield* Fiber.join(second)).message).toMatch(
            /waited 5s for one of the host's 1 exec probe slots/,
          )
          yield* Deferred.succeed(release, undefined)
          expect((yield* Fiber.join(first)).ok).toBe(true)
        }),
      ),
  )
})

describe("liveness failures", () => {
  it.effect(
    "stop the container: Unhealthy and Killing events, then the reconciler restarts the replica, and backs off on the next failure",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager, probes, reconciler } = yield* startDeployer(host)
          yield* manager.apply([probed({ livenessProbe: exec(["cat", "/tmp/alive"]) })])
          yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
          const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
            Effect.map((s) => s.pods[0] as ReplicaStatus),
          )
          const settle = (check: (r: ReplicaStatus) => boolean, what: string) =>
            Effect.gen(function* () {
              for (let i = 0; i < 500; i++) {
                const r = yield* replica
                if (check(r)) return r
                yield* turn
              }
              return yield* Effect.die(new Error(`never happened: ${what}`))
            })
          const failure = {
            probe: "liveness",
            container: "app",
            message: "exec [cat /tmp/alive]: exited with code 1",
          } as const

          yield* probes.failed(identity, failure)
          const restarted = yield* settle(
            (r) => r.restarts === 1 && r.phase === "Running",
            "restart",
          )
          const reasons = restarted.events.map((e) => e.reason)
          expect(reasons.slice(reasons.indexOf("Unhealthy"))).toEqual([
            "Unhealthy",
            "Killing",
            "Exited",
            "Created",
            "Started",
            "Restarted",
          ])
          expect(restarted.events.find((e) => e.reason === "Unhealthy")?.message).toBe(
            "Liveness probe failed: exec [cat /tmp/alive]: exited with code 1",
          )
          expect(restarted.events.find((e) => e.reason === "Killing")?.message).toBe(
            "Container app failed liveness probe, will be restarted",
          )

          yield* probes.failed(identity, failure)
          const backingOff = yield* settle((r) => r.phase === "CrashLoopBackOff", "back-off")
          expect(backingOff.message).toMatch(/^back-off 10s restarting failed replica/)
        }),
      ),
  )

  it.effect(
    "a failure reported again while its kill is under way is the same failure: no second kill, no second events",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const entered = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          let stops = 0
          // The app takes its grace to stop: the stop waits until the test releases it.
          const { manager, probes } = yield* startDeployer(host, (fake) => ({
            ...fake,
            containers: {
              ...fake.containers,
              stop: (name, options) =>
                Effect.sync(() => stops++).pipe(
                  Effect.andThen(Deferred.succeed(entered, undefined)),
                  Effect.andThen(Deferred.await(release)),
                  Effect.andThen(fake.containers.stop(name, options)),
                ),
            },
          }))
          yield* manager.apply([probed({ livenessProbe: exec(["cat", "/tmp/alive"]) })])
          const failure = { probe: "liveness", container: "app", message: "exited 1" } as const
          const first = yield* probes.failed(identity, failure).pipe(Effect.forkChild)
          yield* Deferred.await(entered)
          yield* probes.failed(identity, failure)
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(first)
          expect(stops).toBe(1)
          const reasons = (yield* manager.get("shop", "web")).pods[0]?.events.map((e) => e.reason)
          expect(reasons?.filter((r) => r === "Killing")).toHaveLength(1)
          expect(reasons?.filter((r) => r === "Unhealthy")).toHaveLength(1)
        }),
      ),
  )

  it.effect("a failure of a probe the manifest does not have is refused, nothing stopped", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, probes } = yield* startDeployer(host)
        yield* manager.apply([probed({ readinessProbe: exec(["true"]) })])
        const exit = yield* Effect.exit(
          probes.failed(identity, { probe: "liveness", container: "app", message: "x" }),
        )
        expect(Exit.isFailure(exit)).toBe(true)
        expect(
          (yield* manager.get("shop", "web")).pods[0]?.events.map((e) => e.reason),
        ).not.toContain("Killing")
        const app = yield* host.fake.podman.containers.inspect("bm-shop-web-0-app")
        expect(app.State.Status).toBe("running")
      }),
    ),
  )
})
