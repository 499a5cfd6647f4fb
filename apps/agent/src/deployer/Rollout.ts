/**
 * Carries a Deployment or StatefulSet to its desired revision, one step per reconcile pass
 * (RolloutPlan decides, this module does), and keeps a Deployment at its replica count. A step
 * watches progress: a rollout that makes none within `progressDeadlineSeconds` is reported as
 * failed (Progressing=False, ProgressDeadlineExceeded, with the reason of a replica that did not
 * come up), and keeps its old replicas serving.
 */
import { Clock, Effect } from "effect"
import type { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import { defaultUpdatePolicy } from "../UpdateStrategy"
import { imagesOfRevision, podNameOf } from "./PodTemplate"
import type { ReplicaPods } from "./ReplicaPods"
import { planDeployment, planStatefulSet, type Slot } from "./RolloutPlan"
import { newReplica, type Replica, recordEvent, replicasOf, type Table } from "./WorkloadTable"

/** `web-3` of Deployment `web` → 3. */
export const indexOf = (workload: Pick<Workload, "name">, replica: string) =>
  Number(replica.slice(workload.name.length + 1))

/** A replica serves: its pod runs and its sidecar registered. */
export const isAvailable = (replica: Replica) => replica.phase === "Running" && replica.ready

/** A replica as RolloutPlan sees it. */
export const slotOf =
  (workload: Pick<Workload, "name">) =>
  (replica: Replica): Slot => ({
    pod: replica.pod,
    index: indexOf(workload, replica.name),
    available: isAvailable(replica),
  })

/** Pod names held by a replica, an orphan, or a Pod's or StatefulSet's stable replica name. */
const takenPods = (table: Table) => {
  const taken = new Set([...table.replicas.keys(), ...table.orphans.keys()])
  for (const workload of table.desired.values())
    if (workload.kind !== "Deployment")
      for (const name of replicaNames(workload)) taken.add(podNameOf(workload, name))
  return taken
}

/** The lowest free replica name of a Deployment (its pods have no stable names). */
export const freeReplicaName = (table: Table, workload: Workload) => {
  const taken = takenPods(table)
  for (let index = 0; ; index++) {
    const name = `${workload.name}-${index}`
    if (!taken.has(podNameOf(workload, name))) return name
  }
}

/** Creates a replica's pod; a failure leaves it Failed with the reason (retried next pass). */
export const createReplica = (
  pods: ReplicaPods["Service"],
  workload: Workload,
  replica: Replica,
  images: string,
) =>
  pods.create(workload, replica, images).pipe(
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

/** Withdraws a replica's services, then removes its pod and forgets it. */
export const retireReplica = (
  pods: ReplicaPods["Service"],
  directory: ServiceDirectory["Service"],
  table: Table,
  workload: Pick<Workload, "namespace" | "name">,
  replica: Replica,
) =>
  Effect.gen(function* () {
    yield* directory
      .unregister({ namespace: workload.namespace, workload: workload.name, pod: replica.name })
      .pipe(Effect.ignore)
    // One that could not go stays known (and running): a later pass retires it again.
    yield* pods.destroy(replica).pipe(
      Effect.andThen(Effect.sync(() => table.replicas.delete(replica.pod))),
      Effect.catch((e) => Effect.logWarning(e.message)),
    )
  })

/** Why a replica of the new revision is not available, for the status. */
const whyNotAvailable = (replica: Replica) => {
  const problem =
    replica.message ??
    [...replica.events].reverse().find((e) => e.reason === "Unhealthy" || e.reason === "Failed")
      ?.message ??
    (replica.phase === "Running" ? "its sidecar has not registered" : replica.phase)
  const restarts = replica.restarts > 0 ? ` (restarted ${replica.restarts} times)` : ""
  return `replica ${replica.name}: ${problem}${restarts}`
}

/** One step for the workload under `key` (Deployments and StatefulSets; Pods have none). */
export const advance = (
  pods: ReplicaPods["Service"],
  directory: ServiceDirectory["Service"],
  table: Table,
  key: string,
) =>
  Effect.gen(function* () {
    const workload = table.desired.get(key)
    const revision = table.revisions.get(key)
    if (workload === undefined || revision === undefined || workload.kind === "Pod") return
    const policy = workload.update ?? defaultUpdatePolicy
    const replicas = replicasOf(table, key)
    const current = replicas.filter((r) => r.spec === revision)
    const old = replicas.filter((r) => r.spec !== revision)
    const slot = slotOf(workload)
    let changed = false
    if (workload.kind === "Deployment") {
      const plan = planDeployment(policy, workload.replicas, current.map(slot), old.map(slot))
      for (let n = 0; n < plan.create; n++) {
        const replica = newReplica(workload, freeReplicaName(table, workload))
        table.replicas.set(replica.pod, replica)
        yield* createReplica(pods, workload, replica, imagesOfRevision(revision))
        changed = true
      }
      for (const pod of plan.remove) {
        const replica = table.replicas.get(pod)
        if (replica === undefined) continue
        yield* Effect.logInfo(`update of ${key}: removing replica ${replica.name}`)
        yield* retireReplica(pods, directory, table, workload, replica)
        changed = true
      }
    } else {
      const ordinals = replicaNames(workload).flatMap((name) => {
        const replica = table.replicas.get(podNameOf(workload, name))
        return replica === undefined
          ? []
          : [{ ...slot(replica), current: replica.spec === revision }]
      })
      const pod = planStatefulSet(policy, ordinals)
      const replica = pod === undefined ? undefined : table.replicas.get(pod)
      if (replica !== undefined) {
        yield* Effect.logInfo(`update of ${key}: replacing replica ${replica.name}`)
        yield* directory
          .unregister({ namespace: workload.namespace, workload: workload.name, pod: replica.name })
          .pipe(Effect.ignore)
        yield* pods.destroy(replica).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
        yield* createReplica(pods, workload, replica, imagesOfRevision(revision))
        changed = true
      }
    }
    yield* watchProgress(table, key, workload, revision, changed)
  })

/** Notes progress, reports a rollout past its deadline, and ends a finished one. */
const watchProgress = (
  table: Table,
  key: string,
  workload: Workload,
  revision: string,
  changed: boolean,
) =>
  Effect.gen(function* () {
    const rollout = table.rollouts.get(key)
    if (rollout === undefined) return
    const now = yield* Clock.currentTimeMillis
    const replicas = replicasOf(table, key)
    const current = replicas.filter((r) => r.spec === revision)
    const ready = current.filter(isAvailable).length
    if (
      ready === replicas.length &&
      current.length === (workload.kind === "Pod" ? 1 : workload.replicas)
    ) {
      table.rollouts.delete(key)
      return yield* Effect.logInfo(`update of ${key} to revision ${revision} complete`)
    }
    if (changed || ready > rollout.newReady) {
      rollout.progressAt = now
      rollout.stalled = undefined
    }
    rollout.newReady = ready
    const deadline = (workload.update ?? defaultUpdatePolicy).progressDeadlineSeconds
    if (rollout.stalled === undefined && now - rollout.progressAt > deadline * 1000) {
      const waiting = current.find((r) => !isAvailable(r))
      const serving = replicas.filter((r) => r.spec !== revision && isAvailable(r)).length
      rollout.stalled = `revision ${revision} made no progress for ${deadline}s${
        waiting === undefined ? "" : `: ${whyNotAvailable(waiting)}`
      }${serving > 0 ? `; ${serving} replicas of the previous revision keep serving` : ""}`
      yield* Effect.logWarning(`update of ${key}: ${rollout.stalled}`)
    }
  })
