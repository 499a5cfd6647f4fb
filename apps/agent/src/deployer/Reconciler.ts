/**
 * Keeps every desired replica whole: a replica whose pod, container or slirp4netns died is
 * recreated (enforced, as at creation) and counted as a restart, after the back-off of
 * RestartPolicy when a container exited; one never created is created. A replica is recreated at
 * its own revision (an old replica of a Deployment being updated stays old; one whose version is
 * no longer known is removed). Then each workload takes one step of its update or scaling
 * (Rollout.ts). Orphans are left alone, only forgotten once their pod is gone.
 *
 * A pass holds the table's lock only to look and to decide (no Podman call under it), and
 * recreates pods without it, marking them in `table.inFlight`: the API's apply and remove are
 * never held up by a pod being recreated unless they touch that very replica. An update's step
 * runs under the lock (it decides and acts on the whole workload at once).
 */
import { Clock, Context, Deferred, Duration, Effect, Layer, Queue, Stream } from "effect"
import { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import { imagesOfRevision, podNameOf } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { decide, formatDelay, type Problem } from "./RestartPolicy"
import { advance, retireReplica } from "./Rollout"
import {
  newReplica,
  type Replica,
  recordEvent,
  replicasOf,
  type Table,
  WorkloadTable,
} from "./WorkloadTable"

/** Events are what drive reconcile; this pass catches what Podman reports no event for. */
export const DEFAULT_SAFETY_SCAN_MS = 30_000

/** How often the loop looks whether a replica that had an event while created is created now. */
const NOTED_RECHECK_MS = 250

/** While an update is in progress a pass runs at least this often (its steps and deadline). */
const UPDATE_STEP_MS = 2_000

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

/** A replica the pass looks at, and what it found. */
interface Look {
  readonly key: string
  readonly replica: Replica
  readonly problem: Problem | undefined
}

/**
 * A replica the pass recreates without the lock (at the version `workload` and `images` give), or
 * removes (`retire`: its version is no longer known).
 */
interface Work {
  readonly workload: Workload
  readonly images: string
  readonly replica: Replica
  readonly restart: boolean
  readonly retire: boolean
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
      const directory = yield* ServiceDirectory

      /** Under the lock: the desired replicas not being worked on (never-created ones entered). */
      const snapshot = Effect.sync(() => {
        const found: Array<{ key: string; replica: Replica }> = []
        for (const [key, workload] of table.desired) {
          for (const replica of replicasToKeep(table, key, workload)) {
            if (!table.inFlight.has(replica.pod)) found.push({ key, replica })
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
            replica.stoppingSince =
              problem?.stopping === true ? (replica.stoppingSince ?? now) : undefined
            const decision = decide(replica, problem, now, workload.restartPolicy ?? "Always")
            if (decision._tag === "Leave") continue
            if (decision._tag === "End") {
              yield* noteFailure(replica, problem, now)
              replica.phase = decision.phase
              replica.ended = true
              replica.ready = false
              replica.message = `${problem?.message}; not restarted (restartPolicy ${workload.restartPolicy})`
              yield* Effect.logInfo(
                `replica ${replica.workload}#${replica.name}: ${replica.message}`,
              )
              continue
            }
            const version = versionOf(table, key, workload, replica)
            if (version === undefined) {
              yield* Effect.logWarning(
                `replica ${replica.workload}#${replica.name} of an earlier revision: ${problem?.message}; removing it`,
              )
              const done = yield* Deferred.make<void>()
              table.inFlight.set(replica.pod, done)
              work.push({ workload, images: "", replica, restart: false, retire: true, done })
              continue
            }
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
            replica.ready = false
            const done = yield* Deferred.make<void>()
            table.inFlight.set(replica.pod, done)
            work.push({ ...version, replica, restart, retire: false, done })
          }
          return work
        })

      /**
       * Without the lock: the pod replaced; whoever waits for the replica is let go after. True
       * when it runs again.
       */
      const recreate = ({ workload, images, replica, restart, retire, done }: Work) =>
        Effect.gen(function* () {
          if (retire) {
            yield* retireReplica(pods, directory, table, workload, replica)
            return false
          }
          // A pod that could not go makes the creation fail: the replica is retried.
          if (restart)
            yield* pods.destroy(replica).pipe(Effect.catch((e) => Effect.logWarning(e.message)))
          return yield* pods.create(workload, replica, images).pipe(
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
        const examined = found.filter(
          ({ replica }) => replica.phase !== "Pending" && !replica.ended,
        )
        const problems = yield* pods.diagnoseAll(examined.map(({ replica }) => replica.podman))
        const problemOf = new Map(examined.map(({ replica }, i) => [replica, problems[i]]))
        const looks: Array<Look> = found.map(({ key, replica }) => ({
          key,
          replica,
          problem: problemOf.get(replica),
        }))
        const work = yield* table.lock.withPermits(1)(claim(looks))
        let recreated: boolean = false
        for (const item of work) recreated = (yield* recreate(item)) || recreated
        // One step of each workload's update or scaling.
        yield* table.lock.withPermits(1)(
          Effect.forEach([...table.desired.keys()], (key) => advance(pods, directory, table, key), {
            discard: true,
          }),
        )
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
          // Replicas that had an event while an apply, scaling or rollout was still creating them
          // (Pending): an app that exits at once can die before its creation ends. One pass
          // follows the end of that creation.
          const noted = new Set<Replica>()
          // A change to a pod this agent believes whole (or to an orphan) is worth a pass; the
          // events of its own recreations and of failed creations are not (a failing creation
          // would retry in a tight loop). A pod that dies while it is being recreated is seen by
          // the pass that follows every recreation; one that dies while it is first created, by
          // the pass that follows that creation (`noted`).
          const relevant = (pod: string) => {
            if (table.orphans.has(pod)) return true
            let wanted = false
            for (const r of table.replicas.values()) {
              // Events name pods as Podman does (a claimed standby pod by its own name).
              if ((r.podman !== pod && r.pod !== pod) || table.inFlight.has(r.pod)) continue
              if (r.phase === "Running" && r.podman === pod) wanted = true
              else if (r.phase === "Pending" && !noted.has(r)) {
                // The first one noted ends the loop's long wait: from then on it looks often.
                wanted ||= noted.size === 0
                noted.add(r)
              }
            }
            return wanted
          }
          /** Whether a noted replica's creation ended (forgetting those): a pass is due. */
          const notedCreated = () => {
            let ended = false
            for (const r of noted) {
              if (r.phase === "Pending" && table.replicas.get(r.pod) === r) continue
              noted.delete(r)
              ended = true
            }
            return ended
          }
          /** Until woken, `waitMs` passed, or a noted replica's creation ended. */
          const waitForWork = (waitMs: number) =>
            Effect.gen(function* () {
              const deadline = (yield* Clock.currentTimeMillis) + waitMs
              for (;;) {
                const left = deadline - (yield* Clock.currentTimeMillis)
                const step = noted.size === 0 ? left : Math.min(left, NOTED_RECHECK_MS)
                const woken = yield* Queue.take(wake).pipe(
                  Effect.timeoutOption(Duration.millis(Math.max(0, step))),
                )
                if (woken._tag === "Some" || step >= left || notedCreated()) return
              }
            })
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
            yield* waitForWork(untilNextDue(table, yield* Clock.currentTimeMillis, safetyScanMs))
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

/**
 * How long until the next replica in CrashLoopBackOff is due, at most `safetyScanMs` (and at most
 * UPDATE_STEP_MS while an update is in progress).
 */
const untilNextDue = (table: Table, now: number, safetyScanMs: number) => {
  let wait = table.rollouts.size > 0 ? Math.min(safetyScanMs, UPDATE_STEP_MS) : safetyScanMs
  for (const replica of table.replicas.values())
    if (replica.phase === "CrashLoopBackOff" && replica.restartAt !== undefined)
      wait = Math.min(wait, Math.max(0, replica.restartAt - now))
  return wait
}
