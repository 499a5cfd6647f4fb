import { describe, expect, it } from "vitest"
import { renderAgentMetrics } from "./AgentMetrics"
import type { WorkloadStatus } from "./Workloads"

const workload = (
  namespace: string,
  name: string,
  ready: number,
  restarts: ReadonlyArray<number>,
): WorkloadStatus => ({
  namespace,
  name,
  kind: "Deployment",
  replicas: restarts.length,
  services: [],
  desired: restarts.length,
  ready,
  updated: ready,
  available: ready,
  conditions: [],
  pods: restarts.map((n, i) => ({
    name: `${name}-${i}`,
    pod: `bm-${namespace}-${name}-${i}`,
    phase: "Running",
    hostPort: undefined,
    restarts: n,
    message: undefined,
    events: [],
  })),
})

describe("renderAgentMetrics", () => {
  it("writes every family with its samples, per workload where it has labels", () => {
    const text = renderAgentMetrics({
      workloads: [workload("shop", "web", 2, [1, 0]), workload("shop", "orders", 1, [0, 3, 1])],
      dhtPeers: 4,
      residentMemoryBytes: 123456,
    })
    expect(text.split("\n")).toEqual([
      "# HELP beemesh_agent_workloads Workloads deployed on this agent.",
      "# TYPE beemesh_agent_workloads gauge",
      "beemesh_agent_workloads 2",
      "# HELP beemesh_agent_replicas_ready Replicas running, per workload.",
      "# TYPE beemesh_agent_replicas_ready gauge",
      'beemesh_agent_replicas_ready{namespace="shop",workload="web"} 2',
      'beemesh_agent_replicas_ready{namespace="shop",workload="orders"} 1',
      "# HELP beemesh_agent_replica_restarts_total Pods recreated by the reconcile loop, per workload.",
      "# TYPE beemesh_agent_replica_restarts_total counter",
      'beemesh_agent_replica_restarts_total{namespace="shop",workload="web"} 1',
      'beemesh_agent_replica_restarts_total{namespace="shop",workload="orders"} 4',
      "# HELP beemesh_agent_dht_peers Peers in the DHT routing table.",
      "# TYPE beemesh_agent_dht_peers gauge",
      "beemesh_agent_dht_peers 4",
      "# HELP beemesh_agent_resident_memory_bytes Resident memory of the agent process.",
      "# TYPE beemesh_agent_resident_memory_bytes gauge",
      "beemesh_agent_resident_memory_bytes 123456",
      "",
    ])
  })

  it("keeps the per-workload families, without samples, when nothing is deployed", () => {
    const text = renderAgentMetrics({ workloads: [], dhtPeers: 0, residentMemoryBytes: 1 })
    expect(text).toContain("beemesh_agent_workloads 0\n")
    expect(text).toContain(
      "# TYPE beemesh_agent_replicas_ready gauge\n# HELP beemesh_agent_replica_restarts_total",
    )
  })
})
