/**
 * Runs the pod's liveness probes once the startup probes passed (initialDelaySeconds after that,
 * then every periodSeconds). A probe that fails failureThreshold times in a row is reported
 * (`onFailed`): the agent restarts the replica, as the kubelet kills the container. Its count
 * starts over after a report, so a probe that keeps failing is reported again after as many
 * failures, should the restart not have happened.
 */
import type { ReadinessProbe } from "@beemesh/contract"
import { Duration, Effect } from "effect"
import { initialProbeState, observe, type ProbeResult } from "./ProbeThresholds"

export const startLivenessProbes = Effect.fn("LivenessMonitor.start")(function* (
  probes: ReadonlyArray<ReadinessProbe.ReadinessProbe>,
  run: (probe: ReadinessProbe.ReadinessProbe) => Effect.Effect<ProbeResult>,
  started: Effect.Effect<void>,
  onFailed: (probe: ReadinessProbe.ReadinessProbe, message: string) => Effect.Effect<void>,
) {
  const probeLoop = (probe: ReadinessProbe.ReadinessProbe) =>
    Effect.gen(function* () {
      yield* started
      yield* Effect.sleep(Duration.seconds(probe.initialDelaySeconds))
      let state = initialProbeState
      while (true) {
        const result = yield* run(probe)
        state = observe(state, result, probe)
        if (!result.ok)
          yield* Effect.logWarning(
            `liveness probe failed (${state.failures}/${probe.failureThreshold}): ${result.message}`,
          )
        if (state.failures >= probe.failureThreshold) {
          state = initialProbeState
          yield* onFailed(probe, result.message)
        }
        yield* Effect.sleep(Duration.seconds(probe.periodSeconds))
      }
    })
  for (const probe of probes) yield* Effect.forkScoped(probeLoop(probe))
})
