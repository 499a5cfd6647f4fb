/**
 * A container's `readinessProbe` in the form its pod's sidecar runs (@beemesh/contract
 * ReadinessProbe): one action (`httpGet` or `tcpSocket`), a port by number or by the name of one
 * of the container's ports, and the timing fields with Kubernetes' defaults.
 */
import { ReadinessProbe } from "@beemesh/contract"
import type { ContainerInput } from "./ManifestSchema"

type ProbeInput = NonNullable<ContainerInput["readinessProbe"]>

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
  return `${where}: readinessProbe port "${port}" names no port of the container (${
    names.length === 0 ? "it has no named ports" : `its ports are ${names.join(", ")}`
  }); give a number or the name of a port`
}

/** The probe, undefined without one, or why it is refused. */
export const readReadinessProbe = (
  container: ContainerInput,
  where: string,
): ReadinessProbe.ReadinessProbe | undefined | string => {
  const probe: ProbeInput | undefined = container.readinessProbe
  if (probe === undefined) return undefined
  if ((probe.httpGet === undefined) === (probe.tcpSocket === undefined))
    return `${where}: readinessProbe needs exactly one of httpGet or tcpSocket`
  const action = probe.httpGet === undefined ? ("tcpSocket" as const) : ("httpGet" as const)
  const port = portOf((probe.httpGet ?? probe.tcpSocket)?.port ?? 0, container, where)
  if (typeof port === "string") return port
  if (port < 1 || port > 65535 || !Number.isInteger(port))
    return `${where}: readinessProbe port ${port} must be a port between 1 and 65535`
  const path = probe.httpGet?.path ?? "/"
  if (action === "httpGet" && !path.startsWith("/"))
    return `${where}: readinessProbe.httpGet.path "${path.slice(0, 60)}" must start with /`
  const d = ReadinessProbe.DEFAULTS
  return {
    container: container.name,
    action,
    port,
    ...(action === "httpGet" ? { path } : {}),
    initialDelaySeconds: probe.initialDelaySeconds ?? d.initialDelaySeconds,
    periodSeconds: probe.periodSeconds ?? d.periodSeconds,
    timeoutSeconds: probe.timeoutSeconds ?? d.timeoutSeconds,
    successThreshold: probe.successThreshold ?? d.successThreshold,
    failureThreshold: probe.failureThreshold ?? d.failureThreshold,
  }
}
