/**
 * Runs the pod's startup probes (initialDelaySeconds, then every periodSeconds) until each has
 * passed once (successThreshold is 1 for startup probes, as in Kubernetes); readiness and liveness
 * probes wait for `started`. A startup probe that fails failureThreshold times in a row is
 * reported (`onFailed`): the agent restarts the replica, as the kubelet kills a container whose
 * startup probe gave up. It keeps probing meanwhile, so a late pass still counts.
 */
import { ReadinessProbe } from "@beemesh/contract"
import { Deferred, Duration, Effect } from "effect"
import type { ProbeResult } from "./ProbeThresholds"
import type { StartupHold } from "./ReadinessGate"

export const makeStartupGate = Effect.fn("StartupGate.make")(function* (
  probes: ReadonlyArray<ReadinessProbe.ReadinessProbe>,
  run: (probe: ReadinessProbe.ReadinessProbe) => Effect.Effect<ProbeResult>,
  onFailed: (probe: ReadinessProbe.ReadinessProbe, message: string) => Effect.Effect<void>,
) {
  const started = yield* Deferred.make<void>()
  const passed = probes.map(() => false)
  const lastFailure: Array<string | undefined> = probes.map(() => undefined)

  const probeLoop = (index: number) =>
    Effect.gen(function* () {
      const probe = probes[index] as ReadinessProbe.ReadinessProbe
      yield* Effect.sleep(Duration.seconds(probe.initialDelaySeconds))
      let failures = 0
      while (true) {
        const result = yield* run(probe)
        if (result.ok) {
          passed[index] = true
          yield* Effect.logInfo(`startup probe of container ${probe.container} passed`)
          if (passed.every(Boolean)) yield* Deferred.succeed(started, undefined)
          return
        }
        lastFailure[index] = result.message
        failures += 1
        if (failures >= probe.failureThreshold) {
          failures = 0
          yield* Effect.logWarning(
            `startup probe failed ${probe.failureThreshold} times: ${result.message}`,
          )
          yield* onFailed(probe, result.message)
        }
        yield* Effect.sleep(Duration.seconds(probe.periodSeconds))
      }
    })
  if (probes.length === 0) yield* Deferred.succeed(started, undefined)
  for (const index of probes.keys()) yield* Effect.forkScoped(probeLoop(index))

  return {
    started: Deferred.await(started),
    reasons: () =>
      probes.flatMap((probe, index) =>
        passed[index]
          ? []
          : [
              lastFailure[index] === undefined
                ? `startup probe of container ${probe.container} (${ReadinessProbe.describe(probe)}) has not passed yet`
                : `startup probe of container ${probe.container} failing: ${lastFailure[index]}`,
            ],
      ),
  } satisfies StartupHold
})
