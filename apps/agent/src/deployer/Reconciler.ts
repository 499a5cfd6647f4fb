/**
 * Keeps every desired replica whole: a replica whose pod, container or slirp4netns died is
 * recreated (enforced, as at creation) and counted as a restart; one never created is created.
 * Orphans are left alone, only forgotten once their pod is gone.
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { replicaNames } from "../Manifest"
import { podNameOf } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { newReplica, recordEvent, WorkloadTable } from "./WorkloadTable"

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

      const pass = Effect.gen(function* () {
        for (const workload of table.desired.values()) {
          for (const name of replicaNames(workload)) {
            const pod = podNameOf(workload, name)
            const replica = table.replicas.get(pod) ?? newReplica(workload, name)
            table.replicas.set(pod, replica)
            const problem =
              replica.phase === "Pending" ? "not created yet" : yield* pods.diagnose(pod)
            if (problem === undefined) continue
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
            yield* pods.destroy(replica)
            yield* pods.create(workload, replica).pipe(
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
