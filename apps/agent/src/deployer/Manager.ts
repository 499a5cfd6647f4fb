/**
 * The WorkloadManager over the deployer's parts: apply (create, scale, replace, with a rollback of
 * what a failed apply created), remove, status, and at start the adoption of the pods of an earlier
 * run (Adoption.ts). Every change runs under the table's lock and ends with the state saved.
 */
import { Effect, Layer } from "effect"
import { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import { DeployFailed, WorkloadManager, WorkloadNotFound } from "../Workloads"
import { adopt, takeOver, wantedReplica } from "./Adoption"
import {
  MAX_POD_NAME_LENGTH,
  podNameOf,
  specHash,
  type TemplateOptions,
  workloadKey,
} from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { StateStore } from "./StateStore"
import { newReplica, type Replica, replicasOf, statusOf, WorkloadTable } from "./WorkloadTable"

export type ManagerOptions = Pick<TemplateOptions, "sidecarImage" | "slirp">

const make = (options: ManagerOptions) =>
  Effect.gen(function* () {
    const table = yield* WorkloadTable
    const pods = yield* ReplicaPods
    const store = yield* StateStore
    const directory = yield* ServiceDirectory

    const persist = Effect.suspend(() =>
      store.save({ workloads: [...table.desired.values()], orphans: [...table.orphans.keys()] }),
    )

    const destroyReplica = (replica: Replica) =>
      pods
        .destroy(replica)
        .pipe(Effect.andThen(Effect.sync(() => table.replicas.delete(replica.pod))))

    const removeWorkload = (key: string) =>
      Effect.gen(function* () {
        const workload = table.desired.get(key)
        table.desired.delete(key)
        for (const replica of replicasOf(table, key)) {
          yield* destroyReplica(replica)
          if (workload !== undefined) {
            yield* directory
              .unregister({
                namespace: workload.namespace,
                workload: workload.name,
                pod: replica.name,
              })
              .pipe(Effect.ignore)
          }
        }
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

    const applyOne = (workload: Workload) =>
      Effect.gen(function* () {
        const key = workloadKey(workload.namespace, workload.name)
        const previous = table.desired.get(key)
        const replaced =
          previous !== undefined && specHash(previous, options) !== specHash(workload, options)
        // A changed workload replaces all its pods; the same one again only scales.
        if (replaced) yield* removeWorkload(key)
        // Known before its pods start: their sidecars register at once and are checked against it.
        table.desired.set(key, workload)
        yield* settleOrphans(workload)
        const created: Array<Replica> = []
        const rollback = Effect.forEach(created, destroyReplica, { discard: true }).pipe(
          Effect.andThen(
            Effect.sync(() => {
              if (previous !== undefined && !replaced) table.desired.set(key, previous)
              else table.desired.delete(key)
            }),
          ),
        )
        for (const name of replicaNames(workload)) {
          const pod = podNameOf(workload, name)
          if (pod.length > MAX_POD_NAME_LENGTH) {
            yield* rollback
            return yield* new DeployFailed({
              namespace: workload.namespace,
              name: workload.name,
              reason: `pod name ${pod} is longer than ${MAX_POD_NAME_LENGTH} characters; shorten the namespace or the name`,
              fault: "client",
            })
          }
          if (table.replicas.has(pod)) continue
          const replica = newReplica(workload, name)
          yield* pods.create(workload, replica).pipe(Effect.onError(() => rollback))
          table.replicas.set(pod, replica)
          created.push(replica)
        }
        // Scaling down: replicas beyond the new count go.
        const wanted = new Set(replicaNames(workload).map((name) => podNameOf(workload, name)))
        for (const replica of replicasOf(table, key).filter((r) => !wanted.has(r.pod)))
          yield* destroyReplica(replica)
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
        table.lock.withPermits(1)(
          Effect.gen(function* () {
            for (const workload of workloads) yield* applyOne(workload)
            yield* persist
            return workloads.map((workload) => statusOf(table, workload))
          }),
        ),
      ),
      list: () => Effect.sync(() => [...table.desired.values()].map((w) => statusOf(table, w))),
      get: (namespace, name) => {
        const workload = table.desired.get(workloadKey(namespace, name))
        return workload === undefined
          ? Effect.fail(new WorkloadNotFound({ namespace, name }))
          : Effect.succeed(statusOf(table, workload))
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
