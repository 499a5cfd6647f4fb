/**
 * The pod's probes in one place: startup probes first (StartupGate), then readiness
 * (ReadinessGate, which the registration follows) and liveness (LivenessMonitor). Network probes
 * run here; exec probes are run by the agent, which alone can enter an app container. Failures
 * that restart the replica are reported to the agent; a report that does not arrive is logged
 * (the probe reports again after as many failures).
 */
import type { ProbeReport, ReadinessProbe } from "@beemesh/contract"
import { Effect } from "effect"
import type { AgentClientShape } from "./AgentClient"
import { startLivenessProbes } from "./LivenessMonitor"
import { EXEC_PROBE, runProbe } from "./ProbeRunner"
import { makeReadinessGate, type ReadinessGateShape } from "./ReadinessGate"
import { makeStartupGate } from "./StartupGate"

export interface PodProbeLists {
  readonly readiness: ReadonlyArray<ReadinessProbe.ReadinessProbe>
  readonly liveness: ReadonlyArray<ReadinessProbe.ReadinessProbe>
  readonly startup: ReadonlyArray<ReadinessProbe.ReadinessProbe>
}

/**
 * Starts the probes in the current scope. Returns the readiness gate the registration follows,
 * or undefined when nothing gates it (no readiness or startup probes).
 */
export const startPodProbes = Effect.fn("PodProbes.start")(function* (
  probes: PodProbeLists,
  client: Pick<AgentClientShape, "execProbe" | "probeFailed">,
) {
  const runAs = (kind: ProbeReport.ProbeKind) => (probe: ReadinessProbe.ReadinessProbe) =>
    runProbe(probe, (exec) =>
      client
        .execProbe(
          { probe: kind, container: exec.container },
          (exec.timeoutSeconds + EXEC_PROBE.execSlackSeconds) * 1000,
        )
        .pipe(
          Effect.catch((error) =>
            Effect.succeed({ ok: false, message: `the agent did not run it: ${error.message}` }),
          ),
        ),
    )
  const report =
    (kind: "liveness" | "startup") => (probe: ReadinessProbe.ReadinessProbe, message: string) =>
      client
        .probeFailed({ probe: kind, container: probe.container, message })
        .pipe(
          Effect.catch((error) =>
            Effect.logError(
              `could not report the ${kind} probe failure to the agent: ${error.message}`,
            ),
          ),
        )

  const startup = yield* makeStartupGate(probes.startup, runAs("startup"), report("startup"))
  yield* startLivenessProbes(
    probes.liveness,
    runAs("liveness"),
    startup.started,
    report("liveness"),
  )
  if (probes.readiness.length === 0 && probes.startup.length === 0) return undefined
  const gate: ReadinessGateShape = yield* makeReadinessGate(
    probes.readiness,
    runAs("readiness"),
    startup,
  )
  return gate
})
