/**
 * A container's `readinessProbe`, `livenessProbe` and `startupProbe` in the form its pod's
 * sidecar runs (@beemesh/contract ReadinessProbe): one action (`httpGet`, `tcpSocket` with a port
 * by number or by the name of one of the container's ports, or `exec`), and the timing fields with
 * Kubernetes' defaults. As in Kubernetes, liveness and startup probes need successThreshold 1.
 */
import { ReadinessProbe } from "@beemesh/contract"
import type { ContainerInput } from "./ManifestSchema"

export type ProbeField = "readinessProbe" | "livenessProbe" | "startupProbe"

type ProbeInput = NonNullable<ContainerInput[ProbeField]>

const portOf = (
  port: number | string,
  container: ContainerInput,
  where: string,
): number | string => {
  if (typeof port === "number") return port
  const named = (container.ports ?? []).find((p) => p.name === port)
  if (named !== undefined) return named.containerPort
  if (/^[0-9]+$/.test(port)) return Number(port)
  const names = (container.ports ?? []).flatMap((p) => (p.name === undefined ? [] : [p.name]))
  return `${where} port "${port}" names no port of the container (${
    names.length === 0 ? "it has no named ports" : `its ports are ${names.join(", ")}`
  }); give a number or the name of a port`
}

const actionOf = (
  probe: ProbeInput,
  container: ContainerInput,
  where: string,
):
  | Omit<ReadinessProbe.NetworkProbe, keyof typeof ReadinessProbe.DEFAULTS | "container">
  | Omit<ReadinessProbe.ExecProbe, keyof typeof ReadinessProbe.DEFAULTS | "container">
  | string => {
  const given = [probe.httpGet, probe.tcpSocket, probe.exec].filter((a) => a !== undefined)
  if (given.length !== 1) return `${where} needs exactly one of httpGet or tcpSocket or exec`
  if (probe.exec !== undefined) return { action: "exec", command: probe.exec.command }
  const action = probe.httpGet === undefined ? ("tcpSocket" as const) : ("httpGet" as const)
  const port = portOf((probe.httpGet ?? probe.tcpSocket)?.port ?? 0, container, where)
  if (typeof port === "string") return port
  if (port < 1 || port > 65535 || !Number.isInteger(port))
    return `${where} port ${port} must be a port between 1 and 65535`
  const path = probe.httpGet?.path ?? "/"
  if (action === "httpGet" && !path.startsWith("/"))
    return `${where}.httpGet.path "${path.slice(0, 60)}" must start with /`
  return { action, port, ...(action === "httpGet" ? { path } : {}) }
}

/** The container's probe of that kind, undefined without one, or why it is refused. */
export const readProbe = (
  container: ContainerInput,
  field: ProbeField,
  where: string,
): ReadinessProbe.ReadinessProbe | undefined | string => {
  const probe: ProbeInput | undefined = container[field]
  if (probe === undefined) return undefined
  const at = `${where}: ${field}`
  const action = actionOf(probe, container, at)
  if (typeof action === "string") return action
  const d = ReadinessProbe.DEFAULTS
  const successThreshold = probe.successThreshold ?? d.successThreshold
  if (field !== "readinessProbe" && successThreshold !== 1)
    return `${at}.successThreshold must be 1 (Kubernetes' rule for liveness and startup probes), not ${successThreshold}; remove it or set 1`
  return {
    container: container.name,
    ...action,
    initialDelaySeconds: probe.initialDelaySeconds ?? d.initialDelaySeconds,
    periodSeconds: probe.periodSeconds ?? d.periodSeconds,
    timeoutSeconds: probe.timeoutSeconds ?? d.timeoutSeconds,
    successThreshold,
    failureThreshold: probe.failureThreshold ?? d.failureThreshold,
  } as ReadinessProbe.ReadinessProbe
}
