/**
 * The agent's metrics as Prometheus families: workloads, ready replicas and restarts per workload,
 * the DHT's routing table and the process's memory.
 */
import { PrometheusText } from "@beemesh/service"
import type { WorkloadStatus } from "./Workloads"

export interface AgentCounters {
  readonly workloads: ReadonlyArray<WorkloadStatus>
  /** Peers in the DHT routing table. */
  readonly dhtPeers: number
  readonly residentMemoryBytes: number
}

const perWorkload = (
  workloads: ReadonlyArray<WorkloadStatus>,
  value: (w: WorkloadStatus) => number,
): PrometheusText.Family["samples"] =>
  workloads.map((w) => [{ namespace: w.namespace, workload: w.name }, value(w)] as const)

export const agentFamilies = (c: AgentCounters): ReadonlyArray<PrometheusText.Family> => [
  {
    name: "beemesh_agent_workloads",
    help: "Workloads deployed on this agent.",
    type: "gauge",
    samples: [[{}, c.workloads.length]],
  },
  {
    name: "beemesh_agent_replicas_ready",
    help: "Replicas running, per workload.",
    type: "gauge",
    samples: perWorkload(c.workloads, (w) => w.ready),
  },
  {
    name: "beemesh_agent_replica_restarts_total",
    help: "Pods recreated by the reconcile loop, per workload.",
    type: "counter",
    samples: perWorkload(c.workloads, (w) => w.pods.reduce((n, p) => n + p.restarts, 0)),
  },
  {
    name: "beemesh_agent_dht_peers",
    help: "Peers in the DHT routing table.",
    type: "gauge",
    samples: [[{}, c.dhtPeers]],
  },
  {
    name: "beemesh_agent_resident_memory_bytes",
    help: "Resident memory of the agent process.",
    type: "gauge",
    samples: [[{}, c.residentMemoryBytes]],
  },
]

export const renderAgentMetrics = (c: AgentCounters): string =>
  PrometheusText.renderFamilies(agentFamilies(c))
