/**
 * A readiness probe as the sidecar runs it: the agent translates a container's
 * `readinessProbe` (`httpGet` or `tcpSocket`, both against the pod's 127.0.0.1, which the sidecar
 * shares with its apps) into this form, and the sidecar decodes the list from
 * `BEEMESH_READINESS_PROBES` (JSON) and registers the pod's services only while every probe passes.
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

export const ReadinessProbe = Schema.Struct({
  /** The container the probe belongs to (for messages). */
  container: Schema.String,
  /** `httpGet`: GET http://127.0.0.1:<port><path>, ready on 200-399; `tcpSocket`: a connection opens. */
  action: Schema.Literals(["httpGet", "tcpSocket"]),
  port: Port,
  /** The request path of an `httpGet` probe (starts with `/`). */
  path: Schema.optional(Schema.String),
  initialDelaySeconds: Seconds,
  periodSeconds: Count,
  timeoutSeconds: Count,
  successThreshold: Count,
  failureThreshold: Count,
})
export type ReadinessProbe = typeof ReadinessProbe.Type

/** The list's form in the sidecar's environment. */
export const ReadinessProbesJson = Schema.fromJsonString(Schema.Array(ReadinessProbe))

/** What a probe checks, for messages: `httpGet http://127.0.0.1:8080/healthz` or `tcpSocket 127.0.0.1:5432`. */
export const describe = (probe: ReadinessProbe): string =>
  probe.action === "httpGet"
    ? `httpGet http://127.0.0.1:${probe.port}${probe.path ?? "/"}`
    : `tcpSocket 127.0.0.1:${probe.port}`
