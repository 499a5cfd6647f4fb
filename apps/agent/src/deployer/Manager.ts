/**
 * The WorkloadManager over the deployer's parts: apply (create, scale, record an update, replace a
 * Pod; a request succeeds whole or is rolled back whole, and the state is written once at its
 * end), remove, status, readiness from the sidecars' registrations, and at start the adoption of
 * the pods of an earlier run (Adoption.ts). Every change runs under the table's lock and ends with
 * the state saved; a replica the reconciler is recreating
 * (without the lock) is waited for before it is destroyed.
 */
import { SidecarPorts } from "@beemesh/contract"
import { awaitStopped, type PodStop } from "@beemesh/podman"
import { Clock, Deferred, Duration, Effect, Layer } from "effect"
import {
  type ConfigKind,
  type ConfigObject,
  configHash,
  configKey,
  referenceProblem,
  referencesOf,
} from "../ConfigObjects"
import { ServiceDirectory } from "../Directory"
import { replicaNames, type Workload } from "../Manifest"
import {
  describeService,
  type ServiceObject,
  selects,
  serviceKey,
  withSelectedServices,
} from "../ServiceObjects"
import type { PodIdentity } from "../Tokens"
import {
  ConfigInUse,
  ConfigNotFound,
  DeployFailed,
  type LiveReplica,
  ReplicaNotReady,
  ServiceNotFound,
  WorkloadManager,
  WorkloadNotFound,
  WorkloadNotRemoved,
} from "../Workloads"
import { adopt, orphanReplicaPod, takeOver, wantedReplica } from "./Adoption"
import { checkApply } from "./ApplyCheck"
import { ConfigStore, lookupIn } from "./ConfigStore"
import {
  type HashOptions,
  imagesOfRevision,
  podNameOf,
  revisionOf,
  specHash,
  workloadKey,
} from "./PodTemplate"
import { PodVolumes } from "./PodVolumes"
import { type PodNotRemoved, ReplicaPods } from "./ReplicaPods"
import { freeReplicaName, slotOf } from "./Rollout"
import { planScale } from "./RolloutPlan"
import { StateStore } from "./StateStore"
import {
  describeFailures,
  inTurn,
  type Removal,
  type RemovalFailure,
  removeReplicas,
} from "./Teardown"
import { WarmPods } from "./WarmPods"
import {
  awaitIdle,
  newReplica,
  offeredBy,
  type Replica,
  type Rollout,
  replicasOf,
  statusOf,
  WorkloadTable,
} from "./WorkloadTable"

/**
 * A Deployment's new replicas are created a few at a time: each spends most of its time waiting
 * on Podman and its pod's start, and one after another 110 replicas took minutes. More than this
 * only queues in Podman's service on a small host.
 */
const CREATE_CONCURRENCY = 4

/** How long a sidecar's first registration waits for its pod's creation to end. */
const REGISTRATION_HOLD = Duration.seconds(10)

export type ManagerOptions = HashOptions

/** A replica on its way out: its pod's `PodStop` once it has been signalled. */
interface Stopping {
  readonly replica: Replica
  stop: PodStop | undefined
}

const make = (options: ManagerOptions) =>
  Effect.gen(function* () {
    const table = yield* WorkloadTable
    const pods = yield* ReplicaPods
    const warm = yield* WarmPods
    const volumes = yield* PodVolumes
    const store = yield* StateStore
    const directory = yield* ServiceDirectory
    const configs = yield* ConfigStore

    const persist = Effect.suspend(() =>
      store.save({
        workloads: [...table.desired.values()],
        orphans: [...table.orphans.keys()],
        revisions: Object.fromEntries(table.revisions),
      }),
    )

    /**
     * Replicas that go for good (Teardown.ts): every pod is signalled first, each is removed once
     * its containers have exited and leaves the table only then, then its services' records are
     * withdrawn. A replica the reconciler is recreating is signalled once it is done, not under its
     * feet, and without holding back the others (no new work starts meanwhile: that takes the
     * lock this removal holds).
     */
    const retire = (
      workload: Pick<Workload, "namespace" | "name">,
    ): Removal<Stopping, PodNotRemoved, never> => ({
      stop: (replicas) =>
        Effect.gen(function* () {
          const stops = yield* pods.stop(replicas.filter((r) => !table.inFlight.has(r.pod)))
          const byPod = new Map(stops.map((stop) => [stop.name, stop]))
          return replicas.map((replica): Stopping => ({ replica, stop: byPod.get(replica.pod) }))
        }),
      stopped: (stopping) =>
        Effect.gen(function* () {
          if (stopping.stop === undefined) {
            yield* awaitIdle(table, stopping.replica.pod)
            stopping.stop = (yield* pods.stop([stopping.replica]))[0]
          }
          if (stopping.stop !== undefined) yield* awaitStopped(stopping.stop)
        }),
      remove: (replica, stopping) =>
        pods
          .destroy(replica, stopping.stop)
          .pipe(Effect.andThen(Effect.sync(() => table.replicas.delete(replica.pod)))),
      removed: (replica) =>
        directory
          .unregister({ namespace: workload.namespace, workload: workload.name, pod: replica.name })
          .pipe(Effect.ignore),
      settle: (all) => pods.reap(all.flatMap((stopping) => stopping.stop ?? [])),
    })

    /**
     * Removes a workload's replicas, several at once (Teardown.ts). Those whose pods could not be
     * removed become its orphans, so that removing it again (or the next start) retries them;
     * they are returned.
     */
    const removeWorkload = (key: string) =>
      Effect.gen(function* () {
        const workload = table.desired.get(key)
        table.desired.delete(key)
        table.revisions.delete(key)
        table.rollouts.delete(key)
        const [namespace, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)]
        const failures = yield* removeReplicas(
          replicasOf(table, key),
          retire(workload ?? { namespace, name }),
        )
        for (const failure of failures) {
          const replica = table.replicas.get(failure.pod)
          if (replica === undefined) continue
          table.replicas.delete(failure.pod)
          // Orphans are pods as Podman names them (a claimed standby pod's is not the replica's).
          table.orphans.set(replica.podman, {
            pod: replica.podman,
            namespace,
            workload: name,
            replica: replica.name,
          })
        }
        return failures
      })

    const refuseUnremoved = (workload: Workload, failures: ReadonlyArray<RemovalFailure>) =>
      failures.length === 0
        ? Effect.void
        : Effect.fail(
            new DeployFailed({
              namespace: workload.namespace,
              name: workload.name,
              reason: `pods could not be removed: ${describeFailures(failures)}`,
              fault: "server",
            }),
          )

    /** Orphans of `workload` are settled by applying it: adopted if it wants them, else removed. */
    const settleOrphans = (workload: Workload) =>
      Effect.gen(function* () {
        for (const orphan of [...table.orphans.values()]) {
          if (orphan.namespace !== workload.namespace || orphan.workload !== workload.name) continue
          table.orphans.delete(orphan.pod)
          const found = (yield* pods.listOwned()).find((p) => p.name === orphan.pod)
          const name = found === undefined ? undefined : wantedReplica(workload, found, options)
          if (
            found !== undefined &&
            name !== undefined &&
            !table.replicas.has(podNameOf(workload, name))
          )
            yield* takeOver(pods, table, workload, name, orphan.pod, found.labels)
          else yield* pods.removeStray(orphan.pod, orphanReplicaPod(orphan))
        }
      })

    /** Known before its pod starts, so that its sidecar's first registration finds it. */
    const createNamed = (workload: Workload, name: string, images: string) =>
      Effect.gen(function* () {
        const replica = newReplica(workload, name)
        table.replicas.set(replica.pod, replica)
        // Not interrupted half-way when a sibling creation fails: it finishes (or cleans up after
        // itself) and the failed apply's undo then removes what was made.
        yield* pods.create(workload, replica, images).pipe(
          Effect.tapError(() => Effect.sync(() => table.replicas.delete(replica.pod))),
          Effect.uninterruptible,
        )
      })

    /** Creates or removes replicas to reach the workload's count (its revision unchanged). */
    const scale = (workload: Workload, key: string, images: string) =>
      Effect.gen(function* () {
        if (workload.kind === "Deployment") {
          const plan = planScale(workload.replicas, replicasOf(table, key).map(slotOf(workload)))
          // Each name is taken when its creation starts (createNamed claims it in the table first).
          yield* Effect.forEach(
            Array.from({ length: plan.create }),
            () =>
              Effect.suspend(() => createNamed(workload, freeReplicaName(table, workload), images)),
            // A claim of a standby pod asks Podman for its apps only: those go at once.
            { concurrency: CREATE_CONCURRENCY + warm.ready(), discard: true },
          )
          // As fast as a removal of the workload: the same bounded parallel path.
          const surplus = plan.remove.flatMap((pod) => table.replicas.get(pod) ?? [])
          return yield* refuseUnremoved(workload, yield* removeReplicas(surplus, retire(workload)))
        }
        for (const name of replicaNames(workload))
          if (!table.replicas.has(podNameOf(workload, name)))
            yield* createNamed(workload, name, images)
        // Scaling down: replicas beyond the new count go, one at a time (a StatefulSet's order).
        const wanted = new Set(replicaNames(workload).map((name) => podNameOf(workload, name)))
        const beyond = replicasOf(table, key).filter((r) => !wanted.has(r.pod))
        yield* refuseUnremoved(workload, yield* removeReplicas(beyond, inTurn(retire(workload)), 1))
      })

    /**
     * Brings one workload to `workload` at `revision`. New: its pods are created. Same revision:
     * scaled. A Deployment or StatefulSet at a new revision: the update is only recorded here;
     * the reconciler's passes carry it out (Rollout.ts), so its old pods keep serving meanwhile.
     * A Pod at a new revision is replaced.
     */
    const applyOne = (workload: Workload, revision: string) =>
      Effect.gen(function* () {
        const key = workloadKey(workload.namespace, workload.name)
        const previous = table.desired.get(key)
        const previousRevision = table.revisions.get(key)
        const rollout = table.rollouts.get(key)
        const updating = previous !== undefined && previousRevision !== revision
        if (
          workload.kind !== "Pod" &&
          (rollout !== undefined || (updating && replicasOf(table, key).length > 0))
        ) {
          const now = yield* Clock.currentTimeMillis
          const next = rollout ?? {
            versions: new Map(),
            progressAt: now,
            newReady: 0,
            stalled: undefined,
          }
          if (updating && previousRevision !== undefined) {
            next.versions.set(previousRevision, previous)
            next.progressAt = now
            next.newReady = 0
            next.stalled = undefined
          }
          table.rollouts.set(key, next)
          table.desired.set(key, workload)
          table.revisions.set(key, revision)
          return
        }
        if (updating) yield* refuseUnremoved(workload, yield* removeWorkload(key))
        // Known before its pods start: their sidecars register at once and are checked against it.
        table.desired.set(key, workload)
        table.revisions.set(key, revision)
        yield* settleOrphans(workload)
        yield* scale(workload, key, imagesOfRevision(revision))
      })

    interface Undo {
      readonly key: string
      readonly previous: Workload | undefined
      readonly revision: string | undefined
      readonly rollout: Rollout | undefined
      /** Pods were created or removed (not only an update recorded). */
      readonly touched: boolean
    }

    /** Puts a workload back as it was before a failed request: gone, or its previous version. */
    const restore = ({ key, previous, revision, rollout, touched }: Undo) =>
      Effect.gen(function* () {
        if (previous === undefined || revision === undefined) {
          const failures = yield* removeWorkload(key)
          if (failures.length > 0)
            yield* Effect.logError(
              `undoing ${key}: pods kept as orphans: ${describeFailures(failures)}`,
            )
          return
        }
        if (rollout === undefined) table.rollouts.delete(key)
        else table.rollouts.set(key, rollout)
        if (touched) return yield* applyOne(previous, revision)
        table.desired.set(key, previous)
        table.revisions.set(key, revision)
      }).pipe(
        Effect.catch((error) =>
          Effect.logError(`restoring ${key} after a failed apply: ${error.message}`),
        ),
      )

    /** The workload with the hash of what it refers to now (none when it refers to nothing). */
    const withConfigHash = (workload: Workload): Workload => {
      const { configHash: _, ...rest } = workload
      const hash = configHash(
        workload,
        lookupIn(configs.objects, workload.namespace),
        configs.hashKey,
      )
      return hash === undefined ? rest : { ...rest, configHash: hash }
    }

    /**
     * The request's objects put in place, its workloads checked against them and hashed, and every
     * other workload whose objects changed added (so that it rolls); or why the request is refused.
     */
    const withConfigs = (
      requested: ReadonlyArray<Workload>,
      objects: ReadonlyArray<ConfigObject>,
    ): ReadonlyArray<Workload> | DeployFailed => {
      for (const object of objects)
        configs.objects.set(configKey(object.kind, object.namespace, object.name), object)
      const workloads: Array<Workload> = []
      for (const workload of requested) {
        const problem = referenceProblem(workload, lookupIn(configs.objects, workload.namespace))
        if (problem !== undefined)
          return new DeployFailed({
            namespace: workload.namespace,
            name: workload.name,
            reason: problem,
            fault: "client",
          })
        workloads.push(withConfigHash(workload))
      }
      const applying = new Set(requested.map((w) => workloadKey(w.namespace, w.name)))
      if (objects.length === 0) return workloads
      for (const [key, workload] of table.desired) {
        if (applying.has(key) || referencesOf(workload).length === 0) continue
        const updated = withConfigHash(workload)
        if (updated.configHash !== workload.configHash) workloads.push(updated)
      }
      return workloads
    }

    const portRules = { reservedPorts: SidecarPorts.RESERVED }

    /**
     * The workloads with the services the Services held now add to them: the requested ones, and
     * every other one whose share changed (so that it rolls); or why one of them is refused.
     */
    const withServices = (
      workloads: ReadonlyArray<Workload>,
    ): ReadonlyArray<Workload> | DeployFailed => {
      const out: Array<Workload> = []
      const refuse = (workload: Workload, reason: string) =>
        new DeployFailed({
          namespace: workload.namespace,
          name: workload.name,
          reason,
          fault: "client",
        })
      for (const workload of workloads) {
        const updated = withSelectedServices(workload, configs.services.values(), portRules)
        if (typeof updated === "string") return refuse(workload, updated)
        out.push(updated)
      }
      const applying = new Set(workloads.map((w) => workloadKey(w.namespace, w.name)))
      for (const [key, workload] of table.desired) {
        if (applying.has(key)) continue
        const updated = withSelectedServices(workload, configs.services.values(), portRules)
        if (typeof updated === "string") return refuse(workload, updated)
        if (JSON.stringify(updated.selectedBy) !== JSON.stringify(workload.selectedBy))
          out.push(updated)
      }
      return out
    }

    /**
     * All or nothing: the ConfigMaps and Secrets put in place, then checked (references, names,
     * then images: a missing one refuses the request before anything changes), then applied in
     * order; a failure restores those before it, and the objects as they were.
     */
    const applyAll = (
      requested: ReadonlyArray<Workload>,
      objects: ReadonlyArray<ConfigObject>,
      services: ReadonlyArray<ServiceObject>,
    ) => {
      const before = new Map(configs.objects)
      const servicesBefore = new Map(configs.services)
      const changed = objects.length > 0 || services.length > 0
      const putBack = Effect.sync(() => {
        configs.objects.clear()
        for (const [key, object] of before) configs.objects.set(key, object)
        configs.services.clear()
        for (const [key, service] of servicesBefore) configs.services.set(key, service)
      })
      return Effect.gen(function* () {
        for (const service of services)
          configs.services.set(serviceKey(service.namespace, service.name), service)
        const configured = withConfigs(requested, objects)
        if (configured instanceof DeployFailed) return yield* Effect.fail(configured)
        const workloads = withServices(configured)
        if (workloads instanceof DeployFailed) return yield* Effect.fail(workloads)
        if (changed) yield* configs.save()
        return yield* applyWorkloads(workloads)
      }).pipe(
        Effect.onError(() =>
          changed ? putBack.pipe(Effect.andThen(configs.save()), Effect.ignore) : Effect.void,
        ),
      )
    }

    /** A Service goes: the workloads it selected are applied without it (they roll). */
    const removeService = (namespace: string, name: string) =>
      Effect.gen(function* () {
        const key = serviceKey(namespace, name)
        const service = configs.services.get(key)
        if (service === undefined) return yield* new ServiceNotFound({ namespace, name })
        configs.services.delete(key)
        yield* Effect.gen(function* () {
          const workloads = withServices([])
          if (workloads instanceof DeployFailed) return yield* Effect.fail(workloads)
          yield* configs.save()
          if (workloads.length > 0) yield* applyWorkloads(workloads)
        }).pipe(
          Effect.onError(() =>
            Effect.sync(() => configs.services.set(key, service)).pipe(
              Effect.andThen(configs.save()),
              Effect.ignore,
            ),
          ),
        )
        yield* Effect.logInfo(`removed ${describeService(service)}`)
      })

    const applyWorkloads = (workloads: ReadonlyArray<Workload>) =>
      Effect.gen(function* () {
        const refused = checkApply(table, workloads)
        if (refused !== undefined) return yield* Effect.fail(refused)
        const revisions: Array<string> = []
        for (const workload of workloads)
          revisions.push(revisionOf(specHash(workload, options), yield* pods.imagesOf(workload)))
        const done: Array<Undo> = []
        for (const [index, workload] of workloads.entries()) {
          const key = workloadKey(workload.namespace, workload.name)
          const rollout = table.rollouts.get(key)
          const before = {
            key,
            previous: table.desired.get(key),
            revision: table.revisions.get(key),
            rollout:
              rollout === undefined
                ? undefined
                : { ...rollout, versions: new Map(rollout.versions) },
          }
          const result = yield* Effect.result(applyOne(workload, revisions[index]!))
          const step = { ...before, touched: !table.rollouts.has(key) }
          if (result._tag === "Failure") {
            for (const undo of [step, ...done.reverse()]) yield* restore(undo)
            return yield* Effect.fail(result.failure)
          }
          done.push(step)
        }
        // Written once, after the whole request succeeded.
        yield* persist
        return workloads.map((workload) => statusOf(table, workload))
      })

    const removeOne = (namespace: string, name: string) =>
      Effect.gen(function* () {
        const key = workloadKey(namespace, name)
        const orphans = [...table.orphans.values()].filter(
          (o) => o.namespace === namespace && o.workload === name,
        )
        if (!table.desired.has(key) && orphans.length === 0)
          return yield* new WorkloadNotFound({ namespace, name })
        const failures = yield* removeWorkload(key)
        for (const orphan of orphans) {
          yield* pods.removeStray(orphan.pod, orphanReplicaPod(orphan))
          table.orphans.delete(orphan.pod)
        }
        yield* persist
        if (failures.length > 0) return yield* new WorkloadNotRemoved({ namespace, name, failures })
        yield* Effect.logInfo(`removed workload ${key}`)
      })

    const usersOf = (kind: ConfigKind, namespace: string, name: string) =>
      [...table.desired.entries()]
        .filter(
          ([, w]) =>
            w.namespace === namespace &&
            referencesOf(w).some((r) => r.kind === kind && r.name === name),
        )
        .map(([key]) => key)

    const removeConfig = (kind: ConfigKind, namespace: string, name: string) =>
      Effect.gen(function* () {
        const key = configKey(kind, namespace, name)
        if (!configs.objects.has(key)) return yield* new ConfigNotFound({ kind, namespace, name })
        const usedBy = usersOf(kind, namespace, name)
        if (usedBy.length > 0) return yield* new ConfigInUse({ kind, namespace, name, usedBy })
        configs.objects.delete(key)
        yield* configs.save()
        yield* Effect.logInfo(`removed ${kind} ${namespace}/${name}`)
      })

    const saved = yield* store.load()
    yield* table.lock.withPermits(1)(adopt(pods, table, saved, options))
    // Volumes of pods that are gone (removed while the agent was down, or by a crash mid-create).
    yield* volumes.sweep(
      new Set([...[...table.replicas.values()].map((r) => r.pod), ...table.orphans.keys()]),
    )
    // Orphans found without a state file are written down, so that the next start keeps them too.
    if (!saved.found && table.orphans.size > 0) yield* persist

    /** The replica `identity` names while its pod runs here (created or adopted, not removed). */
    const liveReplica = (identity: PodIdentity): LiveReplica | undefined => {
      const replica = table.replicas.get(podNameOf(identity, identity.pod))
      return replica?.workload !== workloadKey(identity.namespace, identity.workload) ||
        replica.generation === undefined
        ? undefined
        : { generation: replica.generation, hostPort: replica.hostPort }
    }

    return WorkloadManager.of({
      apply: Effect.fn("WorkloadManager.apply")((workloads, objects = [], services = []) =>
        table.lock.withPermits(1)(applyAll(workloads, objects, services)),
      ),
      services: () =>
        Effect.sync(() =>
          [...configs.services.values()].map((service) => ({
            ...service,
            selects: [...table.desired.entries()]
              .filter(([, workload]) => selects(service, workload))
              .map(([key]) => key),
          })),
        ),
      removeService: Effect.fn("WorkloadManager.removeService")((namespace, name) =>
        table.lock.withPermits(1)(removeService(namespace, name)),
      ),
      configs: () =>
        Effect.sync(() =>
          [...configs.objects.values()].map((o) => ({
            kind: o.kind,
            namespace: o.namespace,
            name: o.name,
            keys: Object.keys(o.data).sort(),
            usedBy: usersOf(o.kind, o.namespace, o.name),
          })),
        ),
      removeConfig: Effect.fn("WorkloadManager.removeConfig")((kind, namespace, name) =>
        table.lock.withPermits(1)(removeConfig(kind, namespace, name)),
      ),
      list: () => Effect.sync(() => [...table.desired.values()].map((w) => statusOf(table, w))),
      offered: (namespace, name) => {
        const workload = table.desired.get(workloadKey(namespace, name))
        return workload === undefined
          ? Effect.fail(new WorkloadNotFound({ namespace, name }))
          : Effect.succeed(offeredBy(table, workload))
      },
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
      live: (identity) => Effect.sync(() => liveReplica(identity)),
      registered: Effect.fn("WorkloadManager.registered")(function* (identity, registered) {
        const replica = table.replicas.get(podNameOf(identity, identity.pod))
        if (replica?.workload !== workloadKey(identity.namespace, identity.workload)) return
        // A sidecar that starts before its apps (a claimed standby pod's is told its identity
        // while they are made) is answered once its pod's creation is over, not refused meanwhile.
        const creating = replica.creating
        const created =
          registered && !replica.ready && creating !== undefined
            ? yield* Deferred.await(creating).pipe(Effect.timeoutOption(REGISTRATION_HOLD))
            : undefined
        // Checked when it becomes ready (renewals of a ready one are not: the reconciler watches
        // it), unless its pod was made whole a moment ago.
        const whole = created?._tag === "Some" && created.value
        const problem =
          registered && !replica.ready && !whole ? yield* pods.diagnose(replica.podman) : undefined
        replica.ready = registered && problem === undefined
        if (problem !== undefined)
          return yield* new ReplicaNotReady({ pod: replica.pod, reason: problem.message })
      }),
      podClaims: (identity) =>
        Effect.sync(() => {
          // The pod's generation (a new one per creation, as its pod token carries it): a
          // recreated pod's sidecar gets certificates naming the new one.
          const replica = liveReplica(identity)
          const workload = table.desired.get(workloadKey(identity.namespace, identity.workload))
          return replica === undefined || workload === undefined
            ? undefined
            : { labels: workload.labels, generation: replica.generation }
        }),
    })
  })

/** The manager; building it loads the state (failing on a bad file) and adopts owned pods. */
export const workloadManagerLayer = (options: ManagerOptions) =>
  Layer.effect(WorkloadManager, make(options))
