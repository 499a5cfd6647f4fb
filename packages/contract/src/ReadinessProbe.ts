/**
 * A probe as the sidecar runs it (readiness, liveness or startup): the agent translates a
 * container's probe into this form and the sidecar decodes the lists from
 * `BEEMESH_READINESS_PROBES`, `BEEMESH_LIVENESS_PROBES` and `BEEMESH_STARTUP_PROBES` (JSON).
 * `httpGet` and `tcpSocket` reach the pod's 127.0.0.1, which the sidecar shares with its apps;
 * `exec` runs in the app container, which only the agent can enter: the sidecar asks the agent to
 * run it (ProbeReport), so that one scheduler keeps every probe's thresholds.
 */
import { Schema } from "effect"

const Port = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 65535 }))
const Count = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1))
const Seconds = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** Kubernetes' defaults for a probe's timing fields. */
export const DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const

const timing = {
  initialDelaySeconds: Seconds,
  periodSeconds: Count,
  timeoutSeconds: Count,
  successThreshold: Count,
  failureThreshold: Count,
}

/** `httpGet`: GET http://127.0.0.1:<port><path>, passing on 200-399; `tcpSocket`: a connection opens. */
export const NetworkProbe = Schema.Struct({
  /** The container the probe belongs to. */
  container: Schema.String,
  action: Schema.Literals(["httpGet", "tcpSocket"]),
  port: Port,
  /** The request path of an `httpGet` probe (starts with `/`). */
  path: Schema.optional(Schema.String),
  ...timing,
})
export type NetworkProbe = typeof NetworkProbe.Type

/** `exec`: the command runs in the container (by the agent) and passes when it exits 0. */
export const ExecProbe = Schema.Struct({
  container: Schema.String,
  action: Schema.Literal("exec"),
  /** For messages only: the agent runs the command of its own copy of the manifest. */
  command: Schema.Array(Schema.String).check(Schema.isMinLength(1)),
  ...timing,
})
export type ExecProbe = typeof ExecProbe.Type

export const ReadinessProbe = Schema.Union([NetworkProbe, ExecProbe])
export type ReadinessProbe = typeof ReadinessProbe.Type

/** The list's form in the sidecar's environment (readiness, liveness and startup alike). */
export const ReadinessProbesJson = Schema.fromJsonString(Schema.Array(ReadinessProbe))

/**
 * What a probe checks, for messages: `httpGet http://127.0.0.1:8080/healthz`,
 * `tcpSocket 127.0.0.1:5432` or `exec [cat /tmp/ready]`.
 */
export const describe = (probe: ReadinessProbe): string =>
  probe.action === "exec"
    ? `exec [${probe.command.join(" ").slice(0, 120)}]`
    : probe.action === "httpGet"
      ? `httpGet http://127.0.0.1:${probe.port}${probe.path ?? "/"}`
      : `tcpSocket 127.0.0.1:${probe.port}`
