/**
 * What a sidecar tells its agent about the pod's probes, besides registering (Registration):
 *
 *   POST {agent}/v1/pods/{pod}/probes/exec      body ExecRequest  → 200 ExecResult
 *   POST {agent}/v1/pods/{pod}/probes/failures  body ProbeFailure → 202
 *
 * Both carry `Authorization: Bearer <pod token>`. An exec probe runs in an app container, which
 * only the agent can enter: the sidecar, which schedules every probe and keeps its thresholds,
 * asks the agent to run one, named by its kind and container (the agent runs the command of its
 * own copy of the manifest, never one from the request). A liveness probe past its
 * failureThreshold, or a startup probe that never passed, is reported as a failure: the agent
 * restarts the replica.
 */
import { Schema } from "effect"

/** Largest body either request may have. */
export const MAX_PROBE_REPORT_BYTES = 4 * 1024

export const ProbeKind = Schema.Literals(["readiness", "liveness", "startup"])
export type ProbeKind = typeof ProbeKind.Type

/** The body of the exec POST: which probe to run once. */
export const ExecRequest = Schema.Struct({
  probe: ProbeKind,
  container: Schema.String.check(Schema.isMaxLength(253)),
})
export type ExecRequest = typeof ExecRequest.Type

/** The answer: whether the command exited 0 within the probe's timeoutSeconds, and why not. */
export const ExecResult = Schema.Struct({
  ok: Schema.Boolean,
  message: Schema.String,
})
export type ExecResult = typeof ExecResult.Type

/** The body of the failures POST: a probe whose failure restarts the container. */
export const ProbeFailure = Schema.Struct({
  probe: Schema.Literals(["liveness", "startup"]),
  container: Schema.String.check(Schema.isMaxLength(253)),
  /** The probe's last failure as the sidecar saw it. */
  message: Schema.String.check(Schema.isMaxLength(1024)),
})
export type ProbeFailure = typeof ProbeFailure.Type

export const execPath = (pod: string): string => `/v1/pods/${encodeURIComponent(pod)}/probes/exec`
export const failurePath = (pod: string): string =>
  `/v1/pods/${encodeURIComponent(pod)}/probes/failures`

/** Status of a run exec probe (passed or not: the body says); its body is an ExecResult. */
export const EXECUTED = 200
/** Status of a recorded failure; it has no body. */
export const RECORDED = 202
