/**
 * Keeps every desired replica whole: a replica whose pod, container or slirp4netns died is
 * recreated (enforced, as at creation) and counted as a restart; one never created is created.
 * A replica is recreated at its own revision (an old replica of a Deployment being updated stays
 * old; one whose version is no longer known is removed). Then each workload takes one step of
 * its update or scaling (Rollout.ts). Orphans are left alone, only forgotten once their pod is gone.
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import { imagesOfRevision, podNameOf } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { advance, retireReplica } from "./Rollout"
import {
  newReplica,
  type Replica,
  recordEvent,
  replicasOf,
  type Table,
  WorkloadTable,
} from "./WorkloadTable"

/** The replicas to keep whole: a Deployment's as they are (Rollout.ts counts them), else by name. */
const replicasToKeep = (table: Table, key: string, workload: Workload): ReadonlyArray<Replica> =>
  workload.kind === "Deployment"
    ? replicasOf(table, key)
    : replicaNames(workload).map((name) => {
        const pod = podNameOf(workload, name)
        const replica = table.replicas.get(pod) ?? newReplica(workload, name)
        table.replicas.set(pod, replica)
        return replica
      })

/** The version a replica is recreated at, and its images; undefined when it is not known. */
const versionOf = (table: Table, key: string, workload: Workload, replica: Replica) => {
  const revision = table.revisions.get(key) ?? ""
  // StatefulSets and Pods always come back at the current revision, as in Kubernetes.
  if (workload.kind !== "Deployment" || replica.spec === undefined || replica.spec === revision)
    return { workload, images: imagesOfRevision(revision) }
  const old = table.rollouts.get(key)?.versions.get(replica.spec)
  return old === undefined ? undefined : { workload: old, images: imagesOfRevision(replica.spec) }
}

export class Reconciler extends Context.Service<
  Reconciler,
  {
    /** One pass over every desired replica. */
    readonly reconcileOnce: () => Effect.Effect<void>
  }
>()("@beemesh/agent/Reconciler") {
  static readonly layer = Layer.effect(
    Reconciler,
    Effect.gen(function* () {
      const table = yield* WorkloadTable
      const pods = yield* ReplicaPods
      const directory = yield* ServiceDirectory

      const pass = Effect.gen(function* () {
        for (const [key, workload] of [...table.desired]) {
          for (const replica of replicasToKeep(table, key, workload)) {
            const { name, pod } = replica
            const problem =
              replica.phase === "Pending" ? "not created yet" : yield* pods.diagnose(pod)
            if (problem === undefined) continue
            const version = versionOf(table, key, workload, replica)
            if (version === undefined) {
              yield* Effect.logWarning(
                `replica ${replica.workload}#${name} of an earlier revision: ${problem}; removing it`,
              )
              yield* retireReplica(pods, directory, table, workload, replica)
              continue
            }
            yield* Effect.logWarning(
              `replica ${replica.workload}#${name}: ${problem}; recreating pod ${pod}`,
            )
            // A replica that never ran is created, not restarted.
            const restart = replica.phase !== "Pending"
            if (restart) {
              replica.restarts += 1
              yield* recordEvent(replica, "Unhealthy", problem)
            }
            replica.phase = "Restarting"
            replica.message = problem
            replica.ready = false
            yield* pods.destroy(replica)
            yield* pods.create(version.workload, replica, version.images).pipe(
              Effect.andThen(
                restart
                  ? recordEvent(
                      replica,
                      "Restarted",
                      `pod ${pod} recreated (restart ${replica.restarts})`,
                    )
                  : Effect.void,
              ),
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
          }
          yield* advance(pods, directory, table, key)
        }
        for (const orphan of [...table.orphans.keys()]) {
          if ((yield* pods.diagnose(orphan)) === "pod is gone") table.orphans.delete(orphan)
        }
      })

      return Reconciler.of({
        reconcileOnce: Effect.fn("Reconciler.reconcileOnce")(() => table.lock.withPermits(1)(pass)),
      })
    }),
  )

  /** Runs a pass every `intervalMs` until the scope closes; a failed pass is logged. */
  static readonly runEvery = (intervalMs: number) =>
    Effect.gen(function* () {
      const reconciler = yield* Reconciler
      yield* reconciler.reconcileOnce().pipe(
        Effect.catchCause((cause) => Effect.logError("reconcile failed", cause)),
        Effect.repeat(Schedule.spaced(Duration.millis(intervalMs))),
        Effect.forkScoped,
      )
    })
}
