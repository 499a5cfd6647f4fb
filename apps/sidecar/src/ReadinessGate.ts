/**
 * Runs the pod's readiness probes on their own schedules (initialDelaySeconds, then every
 * periodSeconds) and publishes whether all of them are ready: the registration follows it
 * (GatedRegistrar). Each probe keeps its Kubernetes threshold state (ProbeThresholds). With
 * startup probes (StartupGate), nothing runs and the pod is not ready until they all passed.
 */
import { ReadinessProbe } from "@beemesh/contract"
import { Duration, Effect, SubscriptionRef } from "effect"
import { initialProbeState, observe, type ProbeResult, type ProbeState } from "./ProbeThresholds"

export interface ProbeStatus {
  readonly probe: ReadinessProbe.ReadinessProbe
  readonly state: ProbeState
}

export interface ReadinessGateShape {
  /** True while every probe is ready (false until each has passed successThreshold times). */
  readonly ready: SubscriptionRef.SubscriptionRef<boolean>
  readonly probes: () => ReadonlyArray<ProbeStatus>
  /** Why the pod is not ready: one line per probe that is not, with its last failure. */
  readonly reasons: () => ReadonlyArray<string>
}

const reasonOf = ({ probe, state }: ProbeStatus): string =>
  state.lastFailure === undefined
    ? `readiness probe of container ${probe.container} (${ReadinessProbe.describe(probe)}) has not passed yet`
    : `readiness probe of container ${probe.container} failing: ${state.lastFailure}`

/** What holds the readiness probes off: the pod's startup probes until they pass. */
export interface StartupHold {
  readonly started: Effect.Effect<void>
  /** Why it still holds (empty once started). */
  readonly reasons: () => ReadonlyArray<string>
}

const noHold: StartupHold = { started: Effect.void, reasons: () => [] }

/** Starts the probes in the current scope; they stop when it closes. */
export const makeReadinessGate = Effect.fn("ReadinessGate.make")(function* (
  probes: ReadonlyArray<ReadinessProbe.ReadinessProbe>,
  run: (probe: ReadinessProbe.ReadinessProbe) => Effect.Effect<ProbeResult>,
  startup: StartupHold = noHold,
) {
  const statuses: Array<ProbeStatus> = probes.map((probe) => ({ probe, state: initialProbeState }))
  const ready = yield* SubscriptionRef.make(false)
  // Without readiness probes of its own, a pod with startup probes is ready once they passed.
  if (probes.length === 0)
    yield* Effect.forkScoped(Effect.andThen(startup.started, SubscriptionRef.set(ready, true)))

  const probeLoop = (index: number) =>
    Effect.gen(function* () {
      const probe = probes[index] as ReadinessProbe.ReadinessProbe
      yield* startup.started
      yield* Effect.sleep(Duration.seconds(probe.initialDelaySeconds))
      while (true) {
        const result = yield* run(probe)
        const before = statuses[index]?.state ?? initialProbeState
        const state = observe(before, result, probe)
        statuses[index] = { probe, state }
        if (!result.ok && before.failures === 0)
          yield* Effect.logWarning(`readiness probe failed: ${result.message}`)
        if (state.ready !== before.ready)
          yield* Effect.logInfo(
            `container ${probe.container} is ${state.ready ? "ready" : `not ready (${result.message})`}`,
          )
        yield* SubscriptionRef.set(
          ready,
          statuses.every((s) => s.state.ready),
        )
        yield* Effect.sleep(Duration.seconds(probe.periodSeconds))
      }
    })
  for (const index of probes.keys()) yield* Effect.forkScoped(probeLoop(index))

  return {
    ready,
    probes: () => statuses,
    reasons: () => {
      const held = startup.reasons()
      return held.length > 0 ? held : statuses.filter((s) => !s.state.ready).map(reasonOf)
    },
  } satisfies ReadinessGateShape
})
