/**
 * The sidecar's counters as Prometheus metric families, written by @beemesh/service's
 * PrometheusText (text exposition format 0.0.4).
 */
import type { HolePunchCounts } from "@beemesh/p2p"
import type { DirectionSnapshot, ProxyMetricsSnapshot } from "@beemesh/proxy"
import { PrometheusText } from "@beemesh/service"
import type { RegistrationStatus } from "./Registrar"

export interface SidecarCounters {
  readonly proxy: ProxyMetricsSnapshot
  readonly registration: RegistrationStatus
  /** Open libp2p connections of the sidecar's node. */
  readonly connections: number
  /** The same connections by how they reach the peer (see `transportOf`). */
  readonly connectionsByTransport?: Readonly<Record<Transport, number>>
  /** DCUtR hole punching on relayed connections (see @beemesh/p2p). */
  readonly holePunch?: HolePunchCounts
  /**
   * The door's denial reasons, when the sidecar has a door: `beemesh_sidecar_proxy_denied_total`
   * then has a sample for each (0 until the first denial), and for any other reason counted.
   */
  readonly denialReasons?: ReadonlyArray<string>
  /** The NetworkPolicies handed over by the agent: their set's version and how many. */
  readonly networkPolicies?: { readonly version: number; readonly count: number }
}

const policyFamilies = (p: {
  readonly version: number
  readonly count: number
}): ReadonlyArray<PrometheusText.Family> => [
  {
    name: "beemesh_sidecar_network_policies",
    help: "NetworkPolicies of the pod's namespace the sidecar holds (from its agent's last lease).",
    type: "gauge",
    samples: [[{}, p.count]],
  },
  {
    name: "beemesh_sidecar_network_policies_version",
    help: "Version of that set: the agent's time of its last change, in ms (0: none handed over yet).",
    type: "gauge",
    samples: [[{}, p.version]],
  },
]

const deniedFamily = (
  proxy: ProxyMetricsSnapshot,
  reasons: ReadonlyArray<string>,
): PrometheusText.Family => ({
  name: "beemesh_sidecar_proxy_denied_total",
  help: "Streams refused by a door: inbound by this sidecar's door (per reason), outbound by a provider's.",
  type: "counter",
  samples: directions.flatMap((direction) => {
    const counts = proxy.denied[direction]
    const all = new Set([
      ...(direction === "inbound" ? reasons : ["policy"]),
      ...Object.keys(counts),
    ])
    return [...all].map((reason) => [{ direction, reason }, counts[reason] ?? 0] as const)
  }),
})

const directions = ["inbound", "outbound"] as const

export const transports = ["tcp", "unix", "relay"] as const
export type Transport = (typeof transports)[number]

/**
 * How a connection reaches its peer, by its remote address: `unix` is the same-host path (a
 * sidecar of this host, on its socket), `relay` a circuit, `tcp` a published port.
 */
export const transportOf = (remoteAddr: string): Transport =>
  remoteAddr.startsWith("/unix/") ? "unix" : remoteAddr.includes("/p2p-circuit") ? "relay" : "tcp"

/** Counts of connections per transport. */
export const countByTransport = (
  remoteAddrs: ReadonlyArray<string>,
): Readonly<Record<Transport, number>> => {
  const counts = { tcp: 0, unix: 0, relay: 0 }
  for (const addr of remoteAddrs) counts[transportOf(addr)]++
  return counts
}

const perDirection = (
  proxy: ProxyMetricsSnapshot,
  pick: (d: DirectionSnapshot) => number,
): PrometheusText.Family["samples"] =>
  directions.map((d) => [{ direction: d }, pick(proxy[d])] as const)

export const renderMetrics = (c: SidecarCounters): string => {
  const families: ReadonlyArray<PrometheusText.Family> = [
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
      help: "Connections bridged on libp2p streams since start (a stream may carry several, one after another).",
      type: "counter",
      samples: perDirection(c.proxy, (d) => d.streamsOpened),
    },
    {
      name: "beemesh_sidecar_proxy_streams_open",
      help: "Connections being bridged on libp2p streams now.",
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
    ...(c.connectionsByTransport === undefined
      ? []
      : [
          {
            name: "beemesh_sidecar_libp2p_connections_by_transport",
            help: "Open libp2p connections by transport: tcp (a published port), unix (the same-host socket), relay.",
            type: "gauge" as const,
            samples: transports.map(
              (t) => [{ transport: t }, c.connectionsByTransport?.[t] ?? 0] as const,
            ),
          },
        ]),
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
  const holePunch = c.holePunch
  const withDoor = [
    ...families,
    ...(c.denialReasons === undefined ? [] : [deniedFamily(c.proxy, c.denialReasons)]),
    ...(c.networkPolicies === undefined ? [] : policyFamilies(c.networkPolicies)),
  ]
  return PrometheusText.renderFamilies(
    holePunch === undefined
      ? withDoor
      : [
          ...withDoor,
          {
            name: "beemesh_sidecar_hole_punch_total",
            help: "DCUtR on relayed connections: attempted (a relayed connection opened), succeeded (a direct one followed), failed.",
            type: "counter",
            samples: (["attempted", "succeeded", "failed"] as const).map(
              (outcome) => [{ outcome }, holePunch[outcome]] as const,
            ),
          },
        ],
  )
}
