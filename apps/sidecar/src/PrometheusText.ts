/**
 * Renders the sidecar's counters in the Prometheus text exposition format (version 0.0.4).
 */
import type { DirectionSnapshot, ProxyMetricsSnapshot } from "@beemesh/proxy"
import type { RegistrationStatus } from "./Registrar"

export interface SidecarCounters {
  readonly proxy: ProxyMetricsSnapshot
  readonly registration: RegistrationStatus
  /** Open libp2p connections of the sidecar's node. */
  readonly connections: number
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

interface Family {
  readonly name: string
  readonly help: string
  readonly type: "counter" | "gauge"
  readonly samples: ReadonlyArray<
    readonly [labels: Readonly<Record<string, string>>, value: number]
  >
}

const directions = ["inbound", "outbound"] as const

const perDirection = (
  proxy: ProxyMetricsSnapshot,
  pick: (d: DirectionSnapshot) => number,
): Family["samples"] => directions.map((d) => [{ direction: d }, pick(proxy[d])] as const)

export const renderMetrics = (c: SidecarCounters): string => {
  const families: ReadonlyArray<Family> = [
    {
      name: "beemesh_sidecar_proxy_bytes_total",
      help: "Bytes carried by the proxy; flow=received is from libp2p streams, flow=sent is to them.",
      type: "counter",
      samples: directions.flatMap((d) => [
        [{ direction: d, flow: "received" }, c.proxy[d].bytesIn] as const,
        [{ direction: d, flow: "sent" }, c.proxy[d].bytesOut] as const,
      ]),
    },
    {
      name: "beemesh_sidecar_proxy_streams_total",
      help: "libp2p streams bridged since start.",
      type: "counter",
      samples: perDirection(c.proxy, (d) => d.streamsOpened),
    },
    {
      name: "beemesh_sidecar_proxy_streams_open",
      help: "libp2p streams being bridged now.",
      type: "gauge",
      samples: perDirection(c.proxy, (d) => d.streamsOpen),
    },
    {
      name: "beemesh_sidecar_proxy_refused_total",
      help: "Connections refused before a stream was bridged (unknown target, no provider, limit).",
      type: "counter",
      samples: perDirection(c.proxy, (d) => d.refused),
    },
    {
      name: "beemesh_sidecar_proxy_errors_total",
      help: "Proxy failures: dial, handshake, connect, reset, idle timeout.",
      type: "counter",
      samples: perDirection(c.proxy, (d) => d.errors),
    },
    {
      name: "beemesh_sidecar_proxy_buffered_bytes",
      help: "Bytes held in the proxy's buffers.",
      type: "gauge",
      samples: [[{}, c.proxy.bufferedBytes]],
    },
    {
      name: "beemesh_sidecar_libp2p_connections",
      help: "Open libp2p connections.",
      type: "gauge",
      samples: [[{}, c.connections]],
    },
    {
      name: "beemesh_sidecar_registered",
      help: "1 while the pod's services hold an unexpired lease from the agent.",
      type: "gauge",
      samples: [[{}, c.registration.registered ? 1 : 0]],
    },
    {
      name: "beemesh_sidecar_registrations_total",
      help: "Successful registrations with the agent, renewals included.",
      type: "counter",
      samples: [[{}, c.registration.registrations]],
    },
    {
      name: "beemesh_sidecar_registration_failures_total",
      help: "Failed registration attempts.",
      type: "counter",
      samples: [[{}, c.registration.failures]],
    },
  ]
  return `${families.map(renderFamily).join("\n")}\n`
}

const renderFamily = (f: Family): string =>
  [
    `# HELP ${f.name} ${f.help}`,
    `# TYPE ${f.name} ${f.type}`,
    ...f.samples.map(([labels, value]) => `${f.name}${renderLabels(labels)} ${value}`),
  ].join("\n")

const renderLabels = (labels: Readonly<Record<string, string>>): string => {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ""
  const body = entries
    .map(
      ([k, v]) =>
        `${k}="${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`,
    )
    .join(",")
  return `{${body}}`
}
