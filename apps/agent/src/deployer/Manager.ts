/**
 * The WorkloadManager over the deployer's parts: apply (create, scale, replace; a request succeeds
 * whole or is rolled back whole, and the state is written once at its end), remove, status, and at start the adoption of the pods of an earlier
 * run (Adoption.ts). Every change runs under the table's lock and ends with the state saved; a
 * replica the reconciler is recreating (without the lock) is waited for before it is destroyed.
 */
import { Effect, Layer } from "effect"
import { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import { WorkloadManager, WorkloadNotFound } from "../Workloads"
import { adopt, takeOver, wantedReplica } from "./Adoption"
import { checkApply } from "./ApplyCheck"
import { podNameOf, specHash, type TemplateOptions, workloadKey } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { StateStore } from "./StateStore"
import {
  awaitIdle,
  newReplica,
  type Replica,
  replicasOf,
  statusOf,
  WorkloadTable,
} from "./WorkloadTable"

/** Pods removed at once when a workload goes: Podman serves them in parallel, within reason. */
const REMOVE_CONCURRENCY = 8

export type ManagerOptions = Pick<TemplateOptions, "sidecarImage" | "slirp" | "relays">

const make = (options: ManagerOptions) =>
  Effect.gen(function* () {
    const table = yield* WorkloadTable
    const pods = yield* ReplicaPods
    const store = yield* StateStore
    const directory = yield* ServiceDirectory

    const persist = Effect.suspend(() =>
      store.save({ workloads: [...table.desired.values()], orphans: [...table.orphans.keys()] }),
    )

    // A replica the reconciler is recreating is destroyed once it is done, not under its feet.
    const destroyReplica = (replica: Replica) =>
      awaitIdle(table, replica.pod).pipe(
        Effect.andThen(pods.destroy(replica)),
        Effect.andThen(Effect.sync(() => table.replicas.delete(replica.pod))),
      )

    // Replicas go in parallel, a few at a time: each waits out its containers' stop timeout, and one
    // after another a 50-replica workload took two minutes to remove.
    const removeWorkload = (key: string) =>
      Effect.gen(function* () {
        const workload = table.desired.get(key)
        table.desired.delete(key)
        yield* Effect.forEach(
          replicasOf(table, key),
          (replica) =>
            Effect.gen(function* () {
              yield* destroyReplica(replica)
              if (workload === undefined) return
              yield* directory
                .unregister({
                  namespace: workload.namespace,
                  workload: workload.name,
                  pod: replica.name,
                })
                .pipe(Effect.ignore)
            }),
          { concurrency: REMOVE_CONCURRENCY, discard: true },
        )
      })

    /** Orphans of `workload` are settled by applying it: adopted if it wants them, else removed. */
    const settleOrphans = (workload: Workload) =>
      Effect.gen(function* () {
        for (const orphan of [...table.orphans.values()]) {
          if (orphan.namespace !== workload.namespace || orphan.workload !== workload.name) continue
          table.orphans.delete(orphan.pod)
          const labels = (yield* pods.listOwned()).find((p) => p.name === orphan.pod)
          const name = labels === undefined ? undefined : wantedReplica(workload, labels, options)
          if (name !== undefined && !table.replicas.has(orphan.pod))
            yield* takeOver(pods, table, workload, name, orphan.pod)
          else yield* pods.removeStray(orphan.pod)
        }
      })

    /** Brings one workload to `workload`: creates, scales, or replaces its pods. */
    const applyOne = (workload: Workload) =>
      Effect.gen(function* () {
        const key = workloadKey(workload.namespace, workload.name)
        const previous = table.desired.get(key)
        // A changed workload replaces all its pods; the same one again only scales.
        if (previous !== undefined && specHash(previous, options) !== specHash(workload, options))
          yield* removeWorkload(key)
        // Known before its pods start: their sidecars register at once and are checked against it.
        table.desired.set(key, workload)
        yield* settleOrphans(workload)
        for (const name of replicaNames(workload)) {
          const pod = podNameOf(workload, name)
          if (table.replicas.has(pod)) continue
          const replica = newReplica(workload, name)
          yield* pods.create(workload, replica)
          table.replicas.set(pod, replica)
        }
        // Scaling down: replicas beyond the new count go.
        const wanted = new Set(replicaNames(workload).map((name) => podNameOf(workload, name)))
        for (const replica of replicasOf(table, key).filter((r) => !wanted.has(r.pod)))
          yield* destroyReplica(replica)
      })

    /** Puts a workload back as it was before a failed request: gone, or its previous version. */
    const restore = (key: string, previous: Workload | undefined) =>
      (previous === undefined ? removeWorkload(key) : applyOne(previous)).pipe(
        Effect.catch((error) =>
          Effect.logError(`restoring ${key} after a failed apply: ${error.message}`),
        ),
      )

    /** All or nothing: checked first, then applied in order; a failure restores those before it. */
    const applyAll = (workloads: ReadonlyArray<Workload>) =>
      Effect.gen(function* () {
        const refused = checkApply(table, workloads)
        if (refused !== undefined) return yield* Effect.fail(refused)
        const done: Array<{ readonly key: string; readonly previous: Workload | undefined }> = []
        for (const workload of workloads) {
          const key = workloadKey(workload.namespace, workload.name)
          const step = { key, previous: table.desired.get(key) }
          const result = yield* Effect.result(applyOne(workload))
          if (result._tag === "Failure") {
            for (const { key, previous } of [step, ...done.reverse()]) yield* restore(key, previous)
            return yield* Effect.fail(result.failure)
          }
          done.push(step)
        }
        // Written once, after the whole request succeeded.
        yield* persist
        return workloads.map((workload) => statusOf(table, workload, specHash(workload, options)))
      })

    const removeOne = (namespace: string, name: string) =>
      Effect.gen(function* () {
        const key = workloadKey(namespace, name)
        const orphans = [...table.orphans.values()].filter(
          (o) => o.namespace === namespace && o.workload === name,
        )
        if (!table.desired.has(key) && orphans.length === 0)
          return yield* new WorkloadNotFound({ namespace, name })
        yield* removeWorkload(key)
        for (const orphan of orphans) {
          yield* pods.removeStray(orphan.pod)
          table.orphans.delete(orphan.pod)
        }
        yield* persist
        yield* Effect.logInfo(`removed workload ${key}`)
      })

    const saved = yield* store.load()
    yield* table.lock.withPermits(1)(adopt(pods, table, saved, options))
    // Orphans found without a state file are written down, so that the next start keeps them too.
    if (!saved.found && table.orphans.size > 0) yield* persist

    return WorkloadManager.of({
      apply: Effect.fn("WorkloadManager.apply")((workloads) =>
        table.lock.withPermits(1)(applyAll(workloads)),
      ),
      list: () =>
        Effect.sync(() =>
          [...table.desired.values()].map((w) => statusOf(table, w, specHash(w, options))),
        ),
      get: (namespace, name) => {
        const workload = table.desired.get(workloadKey(namespace, name))
        return workload === undefined
          ? Effect.fail(new WorkloadNotFound({ namespace, name }))
          : Effect.succeed(statusOf(table, workload, specHash(workload, options)))
      },
      remove: Effect.fn("WorkloadManager.remove")((namespace, name) =>
        table.lock.withPermits(1)(removeOne(namespace, name)),
      ),
      orphans: () => Effect.sync(() => [...table.orphans.values()]),
    })
  })

/** The manager; building it loads the state (failing on a bad file) and adopts owned pods. */
export const workloadManagerLayer = (options: ManagerOptions) =>
  Layer.effect(WorkloadManager, make(options))
