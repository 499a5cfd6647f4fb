/**
 * What the deployer knows, shared by the workload manager and the reconciler: the desired
 * workloads, the replicas (by pod name), the orphans, and the lock that keeps their changes
 * one at a time.
 */

import type { AppliedEgress } from "@beemesh/netns"
import { Clock, Context, Deferred, Effect, Layer, Semaphore } from "effect"
import { replicaNames, type Workload } from "../Manifest"
import { offeredServices } from "../ServiceObjects"
import {
  MAX_REPLICA_EVENTS,
  type OrphanPod,
  type ReplicaEvent,
  type ReplicaEventReason,
  type ReplicaPhase,
  type ReplicaStatus,
  type ReplicaTermination,
  type WorkloadCondition,
  type WorkloadStatus,
} from "../Workloads"
import { podNameOf, workloadKey } from "./PodTemplate"

export interface Replica {
  /** `namespace/name` of its workload. */
  readonly workload: string
  readonly name: string
  /** Its pod's name as the agent knows it (`podNameOf`): the key of the table, stable. */
  readonly pod: string
  /**
   * Its current pod's name in Podman: `pod`, or the name of the standby pod it claimed
   * (WarmPods.ts), whose name was chosen before it.
   */
  podman: string
  hostPort: number | undefined
  phase: ReplicaPhase
  restarts: number
  message: string | undefined
  /** The egress rules in force in the pod's namespace, released after the pod is removed. */
  egress: AppliedEgress | undefined
  /** The revision (revisionOf) of its pod as created or adopted (undefined while it has none). */
  spec: string | undefined
  /** Its sidecar registered since the pod was (re)created: it serves. */
  ready: boolean
  /**
   * Its pod's generation (LABEL_GENERATION), which its sidecar's pod token must carry; set before
   * the pod starts, cleared once the pod is removed. Undefined: no pod, no valid token.
   */
  generation: string | undefined
  readonly events: Array<ReplicaEvent>
  /** When its current pod was created or adopted (epoch ms): how long it ran before it failed. */
  startedAt: number | undefined
  /** The delay before the next restart after a container exit (RestartPolicy). */
  backoffMs: number
  /** When a replica in CrashLoopBackOff is restarted (epoch ms). */
  restartAt: number | undefined
  /** Since when (epoch ms) a container of its pod has been seen stopping (RestartPolicy). */
  stoppingSince: number | undefined
  lastTermination: ReplicaTermination | undefined
  /** Its app ended and its Pod's restartPolicy keeps it so (phase Succeeded or Failed). */
  ended: boolean
  /**
   * Done when the creation of its pod under way ends, true when it made the pod whole (undefined
   * when none is under way): its sidecar may register before its apps have started, and is then
   * answered once they have.
   */
  creating: Deferred.Deferred<boolean> | undefined
}

/** A workload moving to a new revision (Rollout.ts drives it). */
export interface Rollout {
  /** Earlier versions by revision: an old replica that dies is recreated from its own. */
  readonly versions: Map<string, Workload>
  /** When it last made progress: a new replica created or ready, an old one removed. */
  progressAt: number
  /** New replicas ready at the last look, to notice progress. */
  newReady: number
  /** Why it failed, once it made no progress within its deadline (Progressing=False). */
  stalled: string | undefined
}

/** Notes an event of the replica, keeping the most recent `MAX_REPLICA_EVENTS`. */
export const recordEvent = (replica: Replica, reason: ReplicaEventReason, message: string) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    replica.events.push({ at: new Date(now).toISOString(), reason, message })
    if (replica.events.length > MAX_REPLICA_EVENTS) replica.events.shift()
  })

export const newReplica = (workload: Workload, name: string): Replica => ({
  workload: workloadKey(workload.namespace, workload.name),
  name,
  pod: podNameOf(workload, name),
  podman: podNameOf(workload, name),
  hostPort: undefined,
  phase: "Pending",
  restarts: 0,
  message: undefined,
  egress: undefined,
  spec: undefined,
  ready: false,
  generation: undefined,
  events: [],
  startedAt: undefined,
  backoffMs: 0,
  restartAt: undefined,
  stoppingSince: undefined,
  lastTermination: undefined,
  ended: false,
  creating: undefined,
})

export interface Table {
  /** By `namespace/name`. */
  readonly desired: Map<string, Workload>
  /** The revision of each desired workload, by `namespace/name`. */
  readonly revisions: Map<string, string>
  /** Updates in progress, by `namespace/name`. */
  readonly rollouts: Map<string, Rollout>
  /** By Podman pod name. */
  readonly replicas: Map<string, Replica>
  /** Pod names of owned pods no state wanted (kept, never recreated). */
  readonly orphans: Map<string, OrphanPod>
  readonly lock: Semaphore.Semaphore
  /**
   * Pods the reconciler is recreating without holding `lock` (so that the API is not blocked for
   * the seconds a pod takes); done when it is. Whoever destroys a replica waits for it first.
   */
  readonly inFlight: Map<string, Deferred.Deferred<void>>
}

/** Waits until the reconciler is done with the replica's pod (at once when it is not at work). */
export const awaitIdle = (table: Table, pod: string) =>
  Effect.suspend(() => {
    const working = table.inFlight.get(pod)
    return working === undefined ? Effect.void : Deferred.await(working)
  })

export const replicasOf = (table: Table, key: string) =>
  [...table.replicas.values()].filter((r) => r.workload === key)

const NOT_READY_BY_PROBE =
  "not ready: its readiness probe has not passed (the sidecar registers the services when it does; its /readyz says why)"
const NOT_STARTED_BY_PROBE =
  "not ready: its startup probe has not passed (no other probe runs and the sidecar does not register until it does; its /readyz says why)"

/** The services of these versions of a workload, each name=port once. */
const registrable = (versions: ReadonlyArray<Workload>) => {
  const seen = new Map<string, { name: string; port: number }>()
  for (const version of versions)
    for (const service of offeredServices(version))
      seen.set(`${service.name}=${service.port}`, service)
  return [...seen.values()]
}

/**
 * What a replica of `workload` may register: its services, and during an update those of every
 * version still running (`registrable`). What a lease renewal checks, without a whole status.
 */
export const offeredBy = (table: Table, workload: Workload) => {
  const rollout = table.rollouts.get(workloadKey(workload.namespace, workload.name))
  return {
    services: offeredServices(workload),
    ...(rollout === undefined
      ? {}
      : { registrable: registrable([workload, ...rollout.versions.values()]) }),
  }
}

/** The workload's status; "updated" means running its current revision. */
export const statusOf = (table: Table, workload: Workload): WorkloadStatus => {
  const key = workloadKey(workload.namespace, workload.name)
  const spec = table.revisions.get(key)
  const rollout = table.rollouts.get(key)
  const replicas = replicasOf(table, key)
  // A startup probe holds readiness off as a readiness probe does (the sidecar registers after it).
  const readinessProbed = workload.containers.some((c) => c.readinessProbe !== undefined)
  const probed = readinessProbed || workload.containers.some((c) => c.startupProbe !== undefined)
  const notReady = readinessProbed ? NOT_READY_BY_PROBE : NOT_STARTED_BY_PROBE
  const pods = replicas.map(
    (r): ReplicaStatus => ({
      name: r.name,
      pod: r.pod,
      ...(r.podman === r.pod ? {} : { podmanPod: r.podman }),
      phase: r.phase,
      hostPort: r.hostPort,
      restarts: r.restarts,
      revision: r.spec,
      registered: r.ready,
      message: r.message ?? (probed && r.phase === "Running" && !r.ready ? notReady : undefined),
      lastTermination: r.lastTermination,
      restartAt:
        r.phase === "CrashLoopBackOff" && r.restartAt !== undefined
          ? new Date(r.restartAt).toISOString()
          : undefined,
      events: [...r.events],
    }),
  )
  const desired = replicaNames(workload).length
  const ready = pods.filter((p) => p.phase === "Running").length
  const updated = replicas.filter((r) => r.spec === spec && r.phase === "Running").length
  // With readiness (or startup) probes, the sidecar registers only while they pass: available
  // means that.
  // Without, a running replica is an available one (no minReadySeconds yet).
  const available = probed
    ? pods.filter((p) => p.phase === "Running" && p.registered).length
    : ready
  const failed = pods.find((p) => p.phase === "Failed")
  return {
    namespace: workload.namespace,
    name: workload.name,
    kind: workload.kind,
    revision: spec,
    replicas: workload.replicas,
    ...offeredBy(table, workload),
    desired,
    ready,
    updated,
    available,
    conditions: [
      available >= desired
        ? condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            `${available} of ${desired} replicas available`,
          )
        : condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            `${available} of ${desired} replicas available`,
          ),
      rollout?.stalled !== undefined
        ? condition("Progressing", "False", "ProgressDeadlineExceeded", rollout.stalled)
        : updated >= desired && rollout === undefined
          ? condition(
              "Progressing",
              "True",
              "ReplicasAvailable",
              `all ${desired} replicas run the current spec`,
            )
          : condition(
              "Progressing",
              "True",
              "ReplicasUpdating",
              `${updated} of ${desired} replicas run the current spec`,
            ),
      failed === undefined
        ? condition("ReplicaFailure", "False", "NoFailure", "no replica failed")
        : condition(
            "ReplicaFailure",
            "True",
            "FailedCreate",
            `replica ${failed.name}: ${failed.message ?? "failed"}`,
          ),
    ],
    pods,
  }
}

const condition = (
  type: WorkloadCondition["type"],
  status: WorkloadCondition["status"],
  reason: string,
  message: string,
): WorkloadCondition => ({ type, status, reason, message })

export class WorkloadTable extends Context.Service<WorkloadTable, Table>()(
  "@beemesh/agent/WorkloadTable",
) {
  static readonly layer = Layer.effect(
    WorkloadTable,
    Effect.gen(function* () {
      return {
        desired: new Map(),
        revisions: new Map(),
        rollouts: new Map(),
        replicas: new Map(),
        orphans: new Map(),
        lock: yield* Semaphore.make(1),
        inFlight: new Map(),
      } satisfies Table
    }),
  )
}
