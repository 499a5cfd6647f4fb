/**
 * WorkloadManager over Podman: each replica of a workload is an isolated pod (@beemesh/podman)
 * with the sidecar injected, and the egress policy (@beemesh/netns) in force in the pod's network
 * namespace before the sidecar or any app container starts. A reconcile loop recreates a replica
 * whose pod, container or slirp4netns died. Desired workloads are kept in a state file, so that a
 * restarted agent adopts its running pods instead of duplicating them.
 */
import { createHash } from "node:crypto"
import { readFile, rename, writeFile } from "node:fs/promises"
import { SidecarEnvironment, SidecarIdentity, SidecarPorts } from "@beemesh/contract"
import { type AppliedEgress, Egress, gatewayAddress, type SlirpOptions } from "@beemesh/netns"
import {
  adoptEnforcedPod,
  allocateHostPort,
  type ContainerSpec,
  createEnforcedPod,
  destroyEnforcedPod,
  holderName,
  LABEL_OWNER,
  PodmanClient,
  type PodSpecInput,
  removePod,
  SIDECAR_PORT,
  slirpProcessesFor,
} from "@beemesh/podman"
import { Duration, Effect, Layer, Redacted, Result, Schedule, Semaphore } from "effect"
import { ServiceDirectory } from "./Directory"
import { replicaNames, type Workload } from "./Manifest"
import { appSecuritySpec } from "./SecurityContext"
import { issuePodToken } from "./Tokens"
import {
  DeployFailed,
  type ReplicaPhase,
  type ReplicaStatus,
  WorkloadManager,
  WorkloadNotFound,
  type WorkloadStatus,
} from "./Workloads"

export interface DeployerOptions {
  /** Stable identity of this agent (its peer id): the owner label of every pod it creates. */
  readonly owner: string
  readonly sidecarImage: string
  readonly slirp: SlirpOptions
  /** Host address the sidecars' port 8080 is published on and advertised at. */
  readonly advertiseHost: string
  /** The agent API's port, reached from pods at the slirp4netns gateway (the host's loopback). */
  readonly apiPort: number
  readonly podTokenKey: string
  /** Where desired workloads are kept across restarts. */
  readonly stateFile: string
  /** Podman runs rootless (pod namespaces are owned by a user namespace). */
  readonly rootless: boolean
  /** How often replicas are checked (default 2 s). */
  readonly reconcileIntervalMs?: number
}

export const LABEL_NAMESPACE = "io.beemesh.namespace"
export const LABEL_WORKLOAD = "io.beemesh.workload"
export const LABEL_REPLICA = "io.beemesh.replica"
export const LABEL_SPEC = "io.beemesh.spec"

interface Replica {
  readonly workload: string
  readonly name: string
  readonly pod: string
  hostPort: number | undefined
  phase: ReplicaPhase
  restarts: number
  message: string | undefined
  /** The egress rules in force in the pod's namespace, released after the pod is removed. */
  egress: AppliedEgress | undefined
}

const workloadKey = (namespace: string, name: string) => `${namespace}/${name}`

export const podNameOf = (workload: Workload, replica: string) =>
  `bm-${workload.namespace}-${replica}`

/**
 * Changes whenever anything that shapes a pod changes (not the replica count: scaling keeps the
 * running pods); a running pod with another hash is replaced.
 */
export const specHash = (
  workload: Workload,
  options: Pick<DeployerOptions, "sidecarImage" | "slirp">,
) =>
  createHash("sha256")
    .update(
      JSON.stringify([{ ...workload, replicas: undefined }, options.sidecarImage, options.slirp]),
    )
    .digest("hex")
    .slice(0, 16)

/** The sidecar's environment for one replica, in the contract's encoding the sidecar decodes. */
const sidecarEnvironment = (
  workload: Workload,
  replica: string,
  hostPort: number,
  options: DeployerOptions,
): Record<string, string> => {
  const encoded = SidecarEnvironment.encode({
    namespace: workload.namespace,
    workload: workload.name,
    pod: replica,
    services: workload.services,
    upstreams: workload.upstreams,
    // The gateway address, not a name: the sidecar depends on no file an app might influence.
    agentUrl: `http://${gatewayAddress(options.slirp)}:${options.apiPort}`,
    podToken: Redacted.make(
      issuePodToken(options.podTokenKey, {
        namespace: workload.namespace,
        workload: workload.name,
        pod: replica,
      }),
    ),
    advertise: [`/ip4/${options.advertiseHost}/tcp/${hostPort}`],
    listenPort: SidecarPorts.PROXY_PORT,
    healthPort: SidecarPorts.HEALTH_PORT,
  })
  // Manifests and the agent's configuration are validated by the same rules before this point.
  if (Result.isFailure(encoded))
    throw new Error(
      `replica ${replica}: the sidecar environment is invalid: ${encoded.failure.message}`,
    )
  return encoded.success
}

/** The pod spec of one replica (pure; exported for tests). */
export const replicaPodSpec = (
  workload: Workload,
  replica: string,
  hostPort: number,
  options: DeployerOptions,
): PodSpecInput => {
  const pod = podNameOf(workload, replica)
  const sidecar: ContainerSpec = {
    name: "sidecar",
    role: "sidecar",
    image: options.sidecarImage,
    user: SidecarIdentity.podmanUser(SidecarIdentity.UID),
    ports: [SIDECAR_PORT],
    env: sidecarEnvironment(workload, replica, hostPort, options),
  }
  const apps = workload.containers.map(
    (c): ContainerSpec => ({
      name: c.name,
      role: "app",
      image: c.image,
      ...(c.command === undefined ? {} : { entrypoint: c.command }),
      ...(c.args === undefined ? {} : { command: c.args }),
      ...(c.workingDir === undefined ? {} : { workdir: c.workingDir }),
      env: Object.fromEntries(c.env.map((e) => [e.name, e.value])),
      ...appSecuritySpec(c.security),
      ...(c.memoryLimitBytes === undefined && c.cpuLimitMillis === undefined
        ? {}
        : {
            resources: {
              ...(c.memoryLimitBytes === undefined ? {} : { memoryBytes: c.memoryLimitBytes }),
              ...(c.cpuLimitMillis === undefined ? {} : { cpus: c.cpuLimitMillis / 1000 }),
            },
          }),
    }),
  )
  return {
    name: pod,
    labels: {
      [LABEL_NAMESPACE]: workload.namespace,
      [LABEL_WORKLOAD]: workload.name,
      [LABEL_REPLICA]: replica,
      [LABEL_SPEC]: specHash(workload, options),
    },
    network: options.slirp,
    hostIp: options.advertiseHost,
    hostPort,
    containers: [sidecar, ...apps],
    stopTimeoutSeconds: 2,
  }
}

export const makeDeployer = (options: DeployerOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const egress = yield* Egress
    const directory = yield* ServiceDirectory
    const lock = yield* Semaphore.make(1)
    const desired = new Map<string, Workload>()
    const replicas = new Map<string, Replica>()

    const persist = Effect.promise(async () => {
      const temporary = `${options.stateFile}.tmp`
      await writeFile(temporary, JSON.stringify({ workloads: [...desired.values()] }, null, 2), {
        mode: 0o600,
      })
      await rename(temporary, options.stateFile)
    })

    const destroy = (replica: Replica) =>
      Effect.gen(function* () {
        // The pod goes first, then its egress rules (a no-op once its namespace is gone).
        yield* destroyEnforcedPod({ name: replica.pod, egress: replica.egress }, 2).pipe(
          Effect.provideService(Egress, egress),
        )
        replica.egress = undefined
      })

    /** Creates the pod with its egress policy in force before the sidecar or any app starts. */
    const create = (workload: Workload, replica: Replica) =>
      Effect.gen(function* () {
        const hostPort = yield* allocateHostPort(options.advertiseHost)
        const spec = replicaPodSpec(workload, replica.name, hostPort, options)
        // Never touches a pod it did not create (the name may be another's); removes what it did.
        const pod = yield* createEnforcedPod(spec, {
          owner: options.owner,
          imageHint,
          rootless: options.rootless,
        }).pipe(
          Effect.provideService(Egress, egress),
          Effect.mapError((error) => {
            const fault =
              error._tag === "ImageMissing" ||
              error._tag === "PodSpecInvalid" ||
              error._tag === "NameInUse"
                ? "client"
                : "server"
            return new DeployFailed({
              namespace: workload.namespace,
              name: workload.name,
              reason: `replica ${replica.name}: ${error.message}`,
              fault,
            })
          }),
        )
        replica.egress = pod.egress
        replica.hostPort = pod.hostPort
        replica.phase = "Running"
        replica.message = undefined
        yield* Effect.logInfo(
          `replica ${workloadKey(workload.namespace, replica.name)} running as pod ${pod.name} (sidecar published on ${pod.hostIp}:${pod.hostPort})`,
        )
      })

    const imageHint = (image: string) =>
      image === options.sidecarImage
        ? `build the sidecar image first: tooling/run pnpm --filter @beemesh/sidecar image`
        : `build or load ${image} into this host's Podman image store (podman build -t ${image} …); nothing is pulled`

    /** Why a replica is not whole, or undefined when it is. */
    const diagnose = (replica: Replica) =>
      Effect.gen(function* () {
        const inspect = yield* client.pods.inspect(replica.pod).pipe(Effect.option)
        if (inspect._tag === "None") return "pod is gone"
        const containers = inspect.value.Containers ?? []
        const down = containers.filter((c) => c.State !== "running")
        if (down.length > 0)
          return `container ${down.map((c) => c.Name).join(", ")} is ${down[0]!.State}`
        const holder = yield* client.containers.inspect(holderName(replica.pod)).pipe(Effect.option)
        const sandbox =
          holder._tag === "Some" ? holder.value.NetworkSettings?.SandboxKey : undefined
        if (sandbox !== undefined && sandbox !== "" && slirpProcessesFor(sandbox).length === 0)
          return "slirp4netns is gone"
        return undefined
      })

    const newReplica = (workload: Workload, name: string): Replica => ({
      workload: workloadKey(workload.namespace, workload.name),
      name,
      pod: podNameOf(workload, name),
      hostPort: undefined,
      phase: "Pending",
      restarts: 0,
      message: undefined,
      egress: undefined,
    })

    const removeWorkload = (key: string) =>
      Effect.gen(function* () {
        const workload = desired.get(key)
        desired.delete(key)
        for (const replica of [...replicas.values()].filter((r) => r.workload === key)) {
          yield* destroy(replica)
          replicas.delete(replica.pod)
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

    const applyOne = (workload: Workload) =>
      Effect.gen(function* () {
        const key = workloadKey(workload.namespace, workload.name)
        const previous = desired.get(key)
        const replaced =
          previous !== undefined && specHash(previous, options) !== specHash(workload, options)
        // A changed workload replaces all its pods; the same one again only scales.
        if (replaced) yield* removeWorkload(key)
        // Known before its pods start: their sidecars register at once and are checked against it.
        desired.set(key, workload)
        const created: Array<Replica> = []
        const rollback = Effect.forEach(created, destroy, { discard: true }).pipe(
          Effect.andThen(
            Effect.sync(() => {
              for (const r of created) replicas.delete(r.pod)
              if (previous !== undefined && !replaced) desired.set(key, previous)
              else desired.delete(key)
            }),
          ),
        )
        for (const name of replicaNames(workload)) {
          const pod = podNameOf(workload, name)
          if (pod.length > 63) {
            yield* rollback
            return yield* new DeployFailed({
              namespace: workload.namespace,
              name: workload.name,
              reason: `pod name ${pod} is longer than 63 characters; shorten the namespace or the name`,
              fault: "client",
            })
          }
          if (replicas.has(pod)) continue
          const replica = newReplica(workload, name)
          yield* create(workload, replica).pipe(Effect.onError(() => rollback))
          replicas.set(pod, replica)
          created.push(replica)
        }
        // Scaling down: replicas beyond the new count go.
        const wanted = new Set(replicaNames(workload).map((name) => podNameOf(workload, name)))
        for (const replica of [...replicas.values()].filter(
          (r) => r.workload === key && !wanted.has(r.pod),
        )) {
          yield* destroy(replica)
          replicas.delete(replica.pod)
        }
      })

    const status = (workload: Workload): WorkloadStatus => {
      const key = workloadKey(workload.namespace, workload.name)
      const pods = [...replicas.values()]
        .filter((r) => r.workload === key)
        .map(
          (r): ReplicaStatus => ({
            name: r.name,
            pod: r.pod,
            phase: r.phase,
            hostPort: r.hostPort,
            restarts: r.restarts,
            message: r.message,
          }),
        )
      return {
        namespace: workload.namespace,
        name: workload.name,
        kind: workload.kind,
        replicas: workload.replicas,
        services: workload.services,
        ready: pods.filter((p) => p.phase === "Running").length,
        pods,
      }
    }

    const reconcileOnce = lock.withPermits(1)(
      Effect.gen(function* () {
        for (const workload of desired.values()) {
          for (const name of replicaNames(workload)) {
            const pod = podNameOf(workload, name)
            const replica = replicas.get(pod) ?? newReplica(workload, name)
            replicas.set(pod, replica)
            const problem =
              replica.phase === "Pending" ? "not created yet" : yield* diagnose(replica)
            if (problem === undefined) continue
            yield* Effect.logWarning(
              `replica ${replica.workload}#${name}: ${problem}; recreating pod ${pod}`,
            )
            // A replica that never ran is created, not restarted.
            if (replica.phase !== "Pending") replica.restarts += 1
            replica.phase = "Restarting"
            replica.message = problem
            yield* destroy(replica)
            yield* create(workload, replica).pipe(
              Effect.catch((error) =>
                Effect.sync(() => {
                  replica.phase = "Failed"
                  replica.message = error.message
                }).pipe(Effect.andThen(Effect.logError(error.message))),
              ),
            )
          }
        }
      }),
    )

    /** Pods this agent owns from an earlier run: adopt those still wanted and whole, remove the rest. */
    const adopt = Effect.gen(function* () {
      const saved = yield* Effect.promise(() =>
        readFile(options.stateFile, "utf8").then(
          (text) => (JSON.parse(text) as { workloads: Array<Workload> }).workloads,
          () => [] as Array<Workload>,
        ),
      )
      for (const workload of saved)
        desired.set(workloadKey(workload.namespace, workload.name), workload)
      const owned = yield* client.pods
        .list({ labels: { [LABEL_OWNER]: options.owner } })
        .pipe(Effect.orElseSucceed(() => []))
      for (const pod of owned) {
        const labels = pod.Labels ?? {}
        const workload = desired.get(
          workloadKey(labels[LABEL_NAMESPACE] ?? "", labels[LABEL_WORKLOAD] ?? ""),
        )
        const name = labels[LABEL_REPLICA]
        const wanted =
          workload !== undefined &&
          name !== undefined &&
          replicaNames(workload).includes(name) &&
          labels[LABEL_SPEC] === specHash(workload, options)
        if (!wanted) {
          yield* Effect.logInfo(`removing leftover pod ${pod.Name} from an earlier run`)
          yield* removePod(pod.Name, 1)
          continue
        }
        const replica = newReplica(workload, name)
        const problem = yield* diagnose(replica)
        if (problem !== undefined) {
          // Reconcile recreates it (with its egress policy applied before anything runs).
          replica.phase = "Restarting"
          replica.message = problem
        } else {
          // Its egress policy must be in force (re-applied if missing); if neither, recreate it.
          const adopted = yield* Effect.result(
            adoptEnforcedPod(pod.Name, { rootless: options.rootless }),
          )
          if (adopted._tag === "Success") {
            replica.phase = "Running"
            replica.egress = adopted.success
          } else {
            yield* Effect.logWarning(`${adopted.failure.message}; recreating it`)
            replica.restarts += 1
            replica.phase = "Restarting"
            replica.message = adopted.failure.message
            yield* destroy(replica)
            yield* create(workload, replica).pipe(
              Effect.catch((error) =>
                Effect.sync(() => {
                  replica.phase = "Failed"
                  replica.message = error.message
                }).pipe(Effect.andThen(Effect.logError(error.message))),
              ),
            )
          }
        }
        replicas.set(pod.Name, replica)
        yield* Effect.logInfo(`adopted pod ${pod.Name} (${replica.workload}#${name})`)
      }
    })

    yield* lock.withPermits(1)(adopt)
    yield* reconcileOnce.pipe(
      Effect.catchCause((cause) => Effect.logError("reconcile failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.millis(options.reconcileIntervalMs ?? 2000))),
      Effect.forkScoped,
    )
    // Pods outlive the agent on purpose: a restarted agent adopts them (their egress rules live in
    // their own namespaces). DELETE, not a stop, removes a workload.

    const withClient = <A, E>(effect: Effect.Effect<A, E, PodmanClient>) =>
      Effect.provideService(effect, PodmanClient, client)

    return WorkloadManager.of({
      apply: (workloads) =>
        withClient(
          lock.withPermits(1)(
            Effect.gen(function* () {
              for (const workload of workloads) yield* applyOne(workload)
              yield* persist
              return workloads.map(status)
            }),
          ),
        ),
      list: () => Effect.sync(() => [...desired.values()].map(status)),
      get: (namespace, name) => {
        const workload = desired.get(workloadKey(namespace, name))
        return workload === undefined
          ? Effect.fail(new WorkloadNotFound({ namespace, name }))
          : Effect.succeed(status(workload))
      },
      remove: (namespace, name) =>
        withClient(
          lock.withPermits(1)(
            Effect.gen(function* () {
              const key = workloadKey(namespace, name)
              if (!desired.has(key)) return yield* new WorkloadNotFound({ namespace, name })
              yield* removeWorkload(key)
              yield* persist
              yield* Effect.logInfo(`removed workload ${key}`)
            }),
          ),
        ),
    })
  })

export const deployerLayer = (options: DeployerOptions) =>
  Layer.effect(WorkloadManager, makeDeployer(options))
