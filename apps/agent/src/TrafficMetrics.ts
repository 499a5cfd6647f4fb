/**
 * Service traffic (ServiceTraffic) as Prometheus families:
 *
 *   beemesh_service_connections_total{namespace,service,caller,callee,reporter}
 *   beemesh_service_bytes_total{…,direction="sent|received"}   seen from the reporter
 *   beemesh_service_errors_total{…}
 *   beemesh_service_refused_total{…}
 *   beemesh_service_connection_setup_seconds{…}                 histogram
 *
 * `reporter="caller"` series come from the calling pods' sidecars and name both workloads;
 * `reporter="provider"` series come from the serving pods' sidecars and have no caller. Sum one
 * reporter at a time: each connection is counted once by each side.
 */
import type { PrometheusText } from "@beemesh/service"
import type { TrafficSeries, TrafficView } from "./ServiceTraffic"

const labels = (s: TrafficSeries): PrometheusText.Labels => ({
  namespace: s.namespace,
  service: s.service,
  caller: s.caller,
  callee: s.callee,
  reporter: s.reporter,
})

const counter = (
  view: TrafficView,
  name: string,
  help: string,
  value: (s: TrafficSeries) => number,
): PrometheusText.Family => ({
  name,
  help,
  type: "counter",
  samples: view.series.map((s) => [labels(s), value(s)] as const),
})

export const trafficFamilies = (
  view: TrafficView,
): ReadonlyArray<PrometheusText.Family | PrometheusText.HistogramFamily> => [
  counter(
    view,
    "beemesh_service_connections_total",
    "Connections bridged between workloads, by service, caller, callee and the reporting side.",
    (s) => s.connections,
  ),
  {
    name: "beemesh_service_bytes_total",
    help: "Bytes carried on those connections, sent or received as the reporting side sees them.",
    type: "counter",
    samples: view.series.flatMap((s) => [
      [{ ...labels(s), direction: "sent" }, s.bytesSent] as const,
      [{ ...labels(s), direction: "received" }, s.bytesReceived] as const,
    ]),
  },
  counter(
    view,
    "beemesh_service_errors_total",
    "Connections that failed: no provider accepted, the target did not answer, resets, idle timeouts.",
    (s) => s.errors,
  ),
  counter(
    view,
    "beemesh_service_refused_total",
    "Connections refused before bridging: no provider, unknown target, concurrency limit.",
    (s) => s.refused,
  ),
  {
    name: "beemesh_service_connection_setup_seconds",
    help: "Time from accepting a connection to a bridged stream (resolve, dial, handshake).",
    type: "histogram",
    bounds: view.setupBucketsSeconds,
    series: view.series.map((s) => ({
      labels: labels(s),
      buckets: s.setupBuckets,
      sum: s.setupSumSeconds,
    })),
  },
]
