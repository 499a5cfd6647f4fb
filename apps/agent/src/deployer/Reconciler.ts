/**
 * Keeps every desired replica whole: a replica whose pod, container or slirp4netns died is
 * recreated (enforced, as at creation) and counted as a restart, after the back-off of
 * RestartPolicy when a container exited; one never created is created. Orphans are left alone,
 * only forgotten once their pod is gone.
 *
 * A pass holds the table's lock only to look and to decide (no Podman call under it), and recreates
 * pods without it, marking them in `table.inFlight`: the API's apply and remove are never held up
 * by a pod being recreated unless they touch that very replica.
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Queue, Stream } from "effect"
import { replicaNames, type Workload } from "../Manifest"
import { podNameOf } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { decide, formatDelay, type Problem } from "./RestartPolicy"
import { newReplica, type Replica, recordEvent, type Table, WorkloadTable } from "./WorkloadTable"

/** Events are what drive reconcile; this pass catches what Podman reports no event for. */
export const DEFAULT_SAFETY_SCAN_MS = 30_000

/** A replica the pass looks at, and what it found. */
interface Look {
  readonly key: string
  readonly replica: Replica
  readonly problem: Problem | undefined
}

/** A replica the pass recreates without the lock. */
interface Work {
  readonly workload: Workload
  readonly replica: Replica
  readonly restart: boolean
  readonly done: Deferred.Deferred<void>
}

export class Reconciler extends Context.Service<
  Reconciler,
  {
    /** One pass over every desired replica (those backing off are left until they are due). */
    readonly reconcileOnce: () => Effect.Effect<void>
    /**
     * Passes driven by Podman's events, at every back-off's due time, and every `safetyScanMs`
     * in any case; runs until interrupted.
     */
    readonly watch: (safetyScanMs: number) => Effect.Effect<never>
  }
>()("@beemesh/agent/Reconciler") {
  static readonly layer = Layer.effect(
    Reconciler,
    Effect.gen(function* () {
      const table = yield* WorkloadTable
      const pods = yield* ReplicaPods

      /** Under the lock: the desired replicas not being worked on (never-created ones entered). */
      const snapshot = Effect.sync(() => {
        const found: Array<{ key: string; replica: Replica }> = []
        for (const [key, workload] of table.desired) {
          for (const name of replicaNames(workload)) {
            const pod = podNameOf(workload, name)
            const replica = table.replicas.get(pod) ?? newReplica(workload, name)
            table.replicas.set(pod, replica)
            if (!table.inFlight.has(pod)) found.push({ key, replica })
          }
        }
        return found
      })

      /** Under the lock: acts on what was found, unless the replica changed hands meanwhile. */
      const claim = (looks: ReadonlyArray<Look>) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const work: Array<Work> = []
          for (const { key, replica, problem } of looks) {
            const workload = table.desired.get(key)
            if (
              workload === undefined ||
              table.replicas.get(replica.pod) !== replica ||
              table.inFlight.has(replica.pod)
            )
              continue
            const decision = decide(replica, problem, now)
            if (decision._tag === "Leave") continue
            if (decision._tag !== "Create" && replica.phase !== "CrashLoopBackOff") {
              yield* noteFailure(replica, problem, now)
            }
            if (decision._tag === "BackOff") {
              replica.backoffMs = decision.backoffMs
              replica.restartAt = now + decision.delayMs
              replica.phase = "CrashLoopBackOff"
              replica.message = `back-off ${formatDelay(decision.delayMs)} restarting failed replica: ${problem?.message}`
              yield* recordEvent(replica, "BackOff", replica.message)
              yield* Effect.logWarning(
                `replica ${replica.workload}#${replica.name}: ${replica.message}`,
              )
              continue
            }
            const restart = decision._tag === "Restart"
            if (restart) {
              replica.backoffMs = decision.backoffMs
              replica.restarts += 1
              yield* Effect.logWarning(
                `replica ${replica.workload}#${replica.name}: ${problem?.message ?? replica.message}; recreating pod ${replica.pod}`,
              )
            }
            replica.phase = "Restarting"
            replica.restartAt = undefined
            replica.message = problem?.message ?? replica.message
            const done = yield* Deferred.make<void>()
            table.inFlight.set(replica.pod, done)
            work.push({ workload, replica, restart, done })
          }
          return work
        })

      /**
       * Without the lock: the pod replaced; whoever waits for the replica is let go after. True
       * when it runs again.
       */
      const recreate = ({ workload, replica, restart, done }: Work) =>
        Effect.gen(function* () {
          if (restart) yield* pods.destroy(replica)
          return yield* pods.create(workload, replica).pipe(
            Effect.andThen(
              restart
                ? recordEvent(
                    replica,
                    "Restarted",
                    `pod ${replica.pod} recreated (restart ${replica.restarts})`,
                  )
                : Effect.void,
            ),
            Effect.as(true),
            Effect.catch((error) =>
              Effect.sync(() => {
                replica.phase = "Failed"
                replica.message = error.message
              }).pipe(
                Effect.andThen(recordEvent(replica, "Failed", error.message)),
                Effect.andThen(Effect.logError(error.message)),
                Effect.as(false),
              ),
            ),
          )
        }).pipe(
          Effect.ensuring(
            Effect.suspend(() => {
              table.inFlight.delete(replica.pod)
              return Deferred.succeed(done, undefined)
            }),
          ),
        )

      const pass = Effect.gen(function* () {
        const found = yield* table.lock.withPermits(1)(snapshot)
        const looks: Array<Look> = []
        for (const { key, replica } of found) {
          const problem =
            replica.phase === "Pending" ? undefined : yield* pods.diagnose(replica.pod)
          looks.push({ key, replica, problem })
        }
        const work = yield* table.lock.withPermits(1)(claim(looks))
        let recreated: boolean = false
        for (const item of work) recreated = (yield* recreate(item)) || recreated
        for (const orphan of [...table.orphans.keys()]) {
          if ((yield* pods.diagnose(orphan))?.message === "pod is gone")
            table.orphans.delete(orphan)
        }
        return recreated
      })

      const reconcileOnce = Effect.fn("Reconciler.reconcileOnce")(() => Effect.asVoid(pass))

      const watch = (safetyScanMs: number) =>
        Effect.gen(function* () {
          const wake = yield* Queue.sliding<void>(1)
          // A change to a pod this agent believes whole (or to an orphan) is worth a pass; the
          // events of its own recreations and of failed creations are not (a failing creation
          // would retry in a tight loop). A pod that dies while it is being recreated is seen by
          // the pass that follows every recreation.
          const relevant = (pod: string) =>
            table.orphans.has(pod) ||
            (table.replicas.get(pod)?.phase === "Running" && !table.inFlight.has(pod))
          yield* pods.changes().pipe(
            Stream.runForEach((pod) =>
              relevant(pod) ? Queue.offer(wake, undefined) : Effect.void,
            ),
            Effect.catchCause((cause) =>
              Effect.logWarning("Podman's event stream broke; reconnecting", cause),
            ),
            // Events may have been missed while the stream was down: look at everything once.
            Effect.andThen(Queue.offer(wake, undefined)),
            Effect.andThen(Effect.sleep(Duration.seconds(1))),
            Effect.forever,
            Effect.forkScoped,
          )
          const round = Effect.gen(function* () {
            const recreated = yield* pass.pipe(
              Effect.withSpan("Reconciler.pass"),
              Effect.catchCause((cause) =>
                Effect.as(Effect.logError("reconcile failed", cause), false),
              ),
            )
            if (recreated) yield* Queue.offer(wake, undefined)
            const waitMs = untilNextDue(table, yield* Clock.currentTimeMillis, safetyScanMs)
            yield* Queue.take(wake).pipe(
              Effect.timeoutOption(Duration.millis(waitMs)),
              Effect.asVoid,
            )
          })
          return yield* Effect.forever(round)
        }).pipe(Effect.scoped)

      return Reconciler.of({ reconcileOnce, watch })
    }),
  )

  /** Reconciles in the background until the scope closes (see `watch`). */
  static readonly run = (safetyScanMs: number = DEFAULT_SAFETY_SCAN_MS) =>
    Effect.gen(function* () {
      const reconciler = yield* Reconciler
      yield* reconciler.watch(safetyScanMs).pipe(Effect.forkScoped)
    })
}

/** The replica's last exit (or loss of its pod) in its events and status. */
const noteFailure = (replica: Replica, problem: Problem | undefined, now: number) =>
  Effect.gen(function* () {
    if (problem?.exited === undefined) {
      if (problem !== undefined) yield* recordEvent(replica, "Unhealthy", problem.message)
      return
    }
    replica.lastTermination = { ...problem.exited, at: new Date(now).toISOString() }
    yield* recordEvent(replica, "Exited", problem.message)
  })

/** How long until the next replica in CrashLoopBackOff is due, at most `safetyScanMs`. */
const untilNextDue = (table: Table, now: number, safetyScanMs: number) => {
  let wait = safetyScanMs
  for (const replica of table.replicas.values())
    if (replica.phase === "CrashLoopBackOff" && replica.restartAt !== undefined)
      wait = Math.min(wait, Math.max(0, replica.restartAt - now))
  return wait
}
