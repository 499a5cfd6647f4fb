/**
 * What a starting agent does with the pods it owns from an earlier run.
 *
 * - A pod that a saved workload wants (same replica, same spec hash) is adopted: its egress policy
 *   verified or re-applied, or, when that fails or the pod is not whole, recreated.
 * - A pod saved as an orphan stays an orphan.
 * - Without a state file nothing is known about what the pods are for, and a missing file must not
 *   remove running pods on its own: every owned pod is kept as an orphan (it runs, is reported in
 *   GET /v1/workloads, and is not recreated when it dies) until an operator deletes or re-applies
 *   its workload.
 * - With a state file, any other owned pod is removed: the file says it is no longer wanted.
 */
import { Clock, Effect } from "effect"
import { replicaNames, type Workload } from "../Manifest"
import type { OrphanPod } from "../Workloads"
import {
  type HashOptions,
  imagesOfRevision,
  LABEL_GENERATION,
  LABEL_NAMESPACE,
  LABEL_REPLICA,
  LABEL_SPEC,
  LABEL_WORKLOAD,
  podNameOf,
  revisionOf,
  revisionOfLabels,
  specHash,
  workloadKey,
} from "./PodTemplate"
import type { OwnedPod, ReplicaPods } from "./ReplicaPods"
import type { SavedState } from "./StateStore"
import { newReplica, recordEvent, replicasOf, type Table } from "./WorkloadTable"

/** The name its replica's pod has for the agent (a claimed standby pod's Podman name differs). */
export const orphanReplicaPod = (orphan: OrphanPod) =>
  orphan.replica === "" ? orphan.pod : podNameOf({ namespace: orphan.namespace }, orphan.replica)

export const orphanOf = (pod: OwnedPod): OrphanPod => ({
  pod: pod.name,
  namespace: pod.labels[LABEL_NAMESPACE] ?? "",
  workload: pod.labels[LABEL_WORKLOAD] ?? "",
  replica: pod.labels[LABEL_REPLICA] ?? "",
})

/** A Deployment's replicas are `<name>-<index>` with any index (updates take fresh ones). */
const isReplicaName = (workload: Workload, name: string) =>
  workload.kind === "Deployment"
    ? name.startsWith(`${workload.name}-`) && /^\d+$/.test(name.slice(workload.name.length + 1))
    : replicaNames(workload).includes(name)

/** The replica name `pod` stands for in `workload`, if the pod is one `workload` wants as it is. */
export const wantedReplica = (
  workload: Workload | undefined,
  pod: OwnedPod,
  options: HashOptions,
): string | undefined => {
  const name = pod.labels[LABEL_REPLICA]
  return workload !== undefined &&
    name !== undefined &&
    isReplicaName(workload, name) &&
    pod.labels[LABEL_SPEC] === specHash(workload, options)
    ? name
    : undefined
}

/**
 * Takes a running pod over as the replica `name` of `workload` (recreating it if it must);
 * `labels` are the pod's. The first pod taken over names the workload's revision, when it has
 * none yet: the images it runs stay current until the workload is applied again.
 */
export const takeOver = (
  pods: ReplicaPods["Service"],
  table: Table,
  workload: Workload,
  name: string,
  pod: string,
  labels: Readonly<Record<string, string>>,
) =>
  Effect.gen(function* () {
    const replica = newReplica(workload, name)
    replica.podman = pod
    // A pod is taken over only when it carries the workload's current spec.
    replica.spec = revisionOfLabels(labels)
    // Its sidecar's token keeps working; a pod from before generations matches only old tokens.
    replica.generation = labels[LABEL_GENERATION] ?? ""
    const key = workloadKey(workload.namespace, workload.name)
    if (!table.revisions.has(key)) table.revisions.set(key, replica.spec)
    table.replicas.set(replica.pod, replica)
    const problem = yield* pods.diagnose(pod)
    if (problem !== undefined) {
      // Reconcile recreates it (with its egress policy applied before anything runs).
      replica.phase = "Restarting"
      replica.message = problem.message
      yield* recordEvent(replica, "Unhealthy", `found ${pod} not whole: ${problem.message}`)
      return yield* Effect.logInfo(
        `adopted pod ${pod} (${replica.workload}#${name}): ${problem.message}`,
      )
    }
    const adopted = yield* Effect.result(pods.adopt(replica))
    if (adopted._tag === "Success") {
      replica.phase = "Running"
      yield* recordEvent(replica, "Adopted", `pod ${pod} adopted; its egress policy is in force`)
      return yield* Effect.logInfo(`adopted pod ${pod} (${replica.workload}#${name})`)
    }
    yield* Effect.logWarning(`${adopted.failure.message}; recreating it`)
    yield* recordEvent(replica, "Unhealthy", adopted.failure.message)
    replica.restarts += 1
    replica.phase = "Restarting"
    replica.message = adopted.failure.message
    yield* pods.destroy(replica).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
    // A replica of an update's previous revision: the reconciler decides (its spec is not saved).
    if (replica.spec !== table.revisions.get(key)) return
    yield* pods.create(workload, replica, imagesOfRevision(replica.spec)).pipe(
      Effect.andThen(recordEvent(replica, "Restarted", `pod ${pod} recreated`)),
      Effect.catch((error) =>
        Effect.sync(() => {
          replica.phase = "Failed"
          replica.message = error.message
        }).pipe(
          Effect.andThen(recordEvent(replica, "Failed", error.message)),
          Effect.andThen(Effect.logError(error.message)),
        ),
      ),
    )
  })

/**
 * With a saved revision, an update survives a restart: a pod of a replica of the workload at
 * another revision is taken over too (as an old replica that keeps serving), and the update goes
 * on. (A file from before revisions knows no revision: only pods of the current spec are taken.)
 */
const replicaOfUpdate = (table: Table, workload: Workload | undefined, pod: OwnedPod) => {
  const name = pod.labels[LABEL_REPLICA]
  return workload !== undefined &&
    workload.kind !== "Pod" &&
    name !== undefined &&
    table.revisions.has(workloadKey(workload.namespace, workload.name)) &&
    isReplicaName(workload, name)
    ? name
    : undefined
}

/** Fills the table from the saved state and the owned pods (see the rule above). */
export const adopt = (
  pods: ReplicaPods["Service"],
  table: Table,
  saved: SavedState,
  options: HashOptions,
) =>
  Effect.gen(function* () {
    for (const workload of saved.workloads) {
      const key = workloadKey(workload.namespace, workload.name)
      table.desired.set(key, workload)
      const revision = saved.revisions?.[key]
      if (revision !== undefined) table.revisions.set(key, revision)
    }
    const keptOrphans = new Set(saved.orphans)
    for (const pod of yield* pods.listOwned()) {
      const workload = table.desired.get(
        workloadKey(pod.labels[LABEL_NAMESPACE] ?? "", pod.labels[LABEL_WORKLOAD] ?? ""),
      )
      const name = wantedReplica(workload, pod, options) ?? replicaOfUpdate(table, workload, pod)
      if (workload !== undefined && name !== undefined) {
        yield* takeOver(pods, table, workload, name, pod.name, pod.labels)
      } else if (!saved.found || keptOrphans.has(pod.name)) {
        table.orphans.set(pod.name, orphanOf(pod))
        yield* Effect.logWarning(
          `keeping pod ${pod.name} as an orphan: ${saved.found ? "saved as one" : "there is no state file"}; DELETE or re-apply its workload to settle it`,
        )
      } else {
        yield* Effect.logInfo(`removing leftover pod ${pod.name} from an earlier run`)
        yield* pods.removeStray(pod.name, orphanReplicaPod(orphanOf(pod)))
      }
    }
    const now = yield* Clock.currentTimeMillis
    for (const [key, workload] of table.desired) {
      const revision = table.revisions.get(key)
      if (replicasOf(table, key).some((r) => r.spec !== revision))
        table.rollouts.set(key, {
          versions: new Map(),
          progressAt: now,
          newReady: 0,
          stalled: undefined,
        })
      // Workloads none of whose pods were found run the images their tags name now.
      if (revision !== undefined) continue
      const images = yield* pods.imagesOf(workload).pipe(
        Effect.tapError((error) => Effect.logWarning(error.message)),
        Effect.orElseSucceed(() => ""),
      )
      table.revisions.set(key, revisionOf(specHash(workload, options), images))
    }
  })
