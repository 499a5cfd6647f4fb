/**
 * What the deployer knows, shared by the workload manager and the reconciler: the desired
 * workloads, the replicas (by pod name), the orphans, and the lock that keeps their changes
 * one at a time.
 */
import type { AppliedEgress } from "@beemesh/netns"
import { Context, Effect, Layer, Semaphore } from "effect"
import type { Workload } from "../Manifest"
import type { OrphanPod, ReplicaPhase, ReplicaStatus, WorkloadStatus } from "../Workloads"
import { podNameOf, workloadKey } from "./PodTemplate"

export interface Replica {
  /** `namespace/name` of its workload. */
  readonly workload: string
  readonly name: string
  readonly pod: string
  hostPort: number | undefined
  phase: ReplicaPhase
  restarts: number
  message: string | undefined
  /** The egress rules in force in the pod's namespace, released after the pod is removed. */
  egress: AppliedEgress | undefined
}

export const newReplica = (workload: Workload, name: string): Replica => ({
  workload: workloadKey(workload.namespace, workload.name),
  name,
  pod: podNameOf(workload, name),
  hostPort: undefined,
  phase: "Pending",
  restarts: 0,
  message: undefined,
  egress: undefined,
})

export interface Table {
  /** By `namespace/name`. */
  readonly desired: Map<string, Workload>
  /** By Podman pod name. */
  readonly replicas: Map<string, Replica>
  /** Pod names of owned pods no state wanted (kept, never recreated). */
  readonly orphans: Map<string, OrphanPod>
  readonly lock: Semaphore.Semaphore
}

export const replicasOf = (table: Table, key: string) =>
  [...table.replicas.values()].filter((r) => r.workload === key)

export const statusOf = (table: Table, workload: Workload): WorkloadStatus => {
  const pods = replicasOf(table, workloadKey(workload.namespace, workload.name)).map(
    (r): ReplicaStatus => ({
      name: r.name,
      pod: r.pod,
      phase: r.phase,
      hostPort: r.hostPort,
      restarts: r.restarts,
      message: r.message,
    }),
  )
  return {
    namespace: workload.namespace,
    name: workload.name,
    kind: workload.kind,
    replicas: workload.replicas,
    services: workload.services,
    ready: pods.filter((p) => p.phase === "Running").length,
    pods,
  }
}

export class WorkloadTable extends Context.Service<WorkloadTable, Table>()(
  "@beemesh/agent/WorkloadTable",
) {
  static readonly layer = Layer.effect(
    WorkloadTable,
    Effect.gen(function* () {
      return {
        desired: new Map(),
        replicas: new Map(),
        orphans: new Map(),
        lock: yield* Semaphore.make(1),
      } satisfies Table
    }),
  )
}
