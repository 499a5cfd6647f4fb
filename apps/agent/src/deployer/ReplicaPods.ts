/**
 * The pods of replicas over Podman and Egress: create one enforced (its egress policy in force
 * before the sidecar or any app runs), destroy one (the pod before its rules), say why one is not
 * whole, take over one found running. Thin I/O; the policy of when to do what is the workload
 * manager's and the reconciler's.
 */
import { Egress } from "@beemesh/netns"
import {
  type AppProcesses,
  adoptEnforcedPod,
  allocateHostPort,
  claimStandbyPod,
  containerName,
  createEnforcedPod,
  destroyEnforcedPod,
  findSlirpProcesses,
  holderName,
  LABEL_OWNER,
  LABEL_POD,
  LABEL_ROLE,
  type PodEgressFailed,
  PodmanClient,
  type PodmanError,
  type PodmanEvent,
  type PodSpecInput,
  type PodStop,
  reapSlirps,
  removePod,
  SIDECAR_PORT,
  type SlirpProcess,
  stopPods,
} from "@beemesh/podman"
import { Clock, Context, Data, Deferred, Effect, Layer, Order, Stream } from "effect"
import { resolveEnv } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { newGeneration } from "../Tokens"
import { DeployFailed, LOG_LINE_MAX, LOG_TAIL_LINES } from "../Workloads"
import { ConfigStore, lookupIn } from "./ConfigStore"
import {
  imagesHash,
  LABEL_GENERATION,
  LABEL_IMAGES,
  LABEL_NAMESPACE,
  LABEL_REPLICA,
  LABEL_SPEC,
  LABEL_STANDBY,
  LABEL_WORKLOAD,
  podNameOf,
  podNameOrder,
  replicaPodSpec,
  revisionOf,
  specHash,
  type TemplateOptions,
  workloadKey,
} from "./PodTemplate"
import { PodVolumes } from "./PodVolumes"
import type { Problem } from "./RestartPolicy"
import { removeSocketsOf, sweepSockets } from "./SameHostDirectory"
import { type StandbyPod, WarmPods } from "./WarmPods"
import { type Replica, recordEvent } from "./WorkloadTable"

export interface ReplicaPodsOptions extends TemplateOptions {
  /** Stable identity of this agent (its peer id): the owner label of every pod it creates. */
  readonly owner: string
  /** Podman runs rootless (pod namespaces are owned by a user namespace). */
  readonly rootless: boolean
}

/** Podman could not remove a replica's pod: it is still there (with its egress rules). */
export class PodNotRemoved extends Data.TaggedError("PodNotRemoved")<{
  readonly pod: string
  readonly reason: string
}> {
  override get message() {
    return `pod ${this.pod} could not be removed: ${this.reason}`
  }
}

export interface OwnedPod {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

export class ReplicaPods extends Context.Service<
  ReplicaPods,
  {
    /**
     * Creates the replica's pod, enforced, labelled with `images` (the hash of the image IDs the
     * workload's version was applied with); sets its host port, egress, revision and phase Running.
     */
    readonly create: (
      workload: Workload,
      replica: Replica,
      images: string,
    ) => Effect.Effect<void, DeployFailed>
    /** The hash of the IDs of the workload's app images; DeployFailed when one is missing. */
    readonly imagesOf: (workload: Workload) => Effect.Effect<string, DeployFailed>
    /**
     * Removes the replica's pod (then its egress rules); it is no longer ready. Each container is
     * stopped as what it does with SIGTERM asks: killed at once when it cannot handle it, else
     * given its grace period (the pod's terminationGracePeriodSeconds).
     */
    readonly destroy: (replica: Replica, stop?: PodStop) => Effect.Effect<void, PodNotRemoved>
    /**
     * Signals the replicas' containers to stop, as `destroy` would, without waiting (one `PodStop`
     * each, in order): a removal of many signals them all first, then `destroy`s each with its
     * `PodStop` (whose slirp4netns is left to `reap`).
     */
    readonly stop: (replicas: ReadonlyArray<Replica>) => Effect.Effect<ReadonlyArray<PodStop>>
    /** Kills slirp4netns processes that outlive the pods `stop` signalled (one look for all). */
    readonly reap: (stops: ReadonlyArray<PodStop>) => Effect.Effect<void>
    /** Why the replica's pod is not whole (with the exit of a container), or undefined when it is. */
    readonly diagnose: (pod: string) => Effect.Effect<Problem | undefined>
    /**
     * `diagnose` for many pods at once (a reconcile pass), in order: the host's slirp4netns
     * processes are read once for all of them rather than once per pod.
     */
    readonly diagnoseAll: (
      pods: ReadonlyArray<string>,
    ) => Effect.Effect<ReadonlyArray<Problem | undefined>>
    /**
     * The names of owned pods Podman reports a change of (a container died or was removed, a pod
     * was removed or stopped), as they happen; fails when the event stream breaks.
     */
    readonly changes: () => Stream.Stream<string, PodmanError>
    /** Verifies (or re-applies) a running pod's egress policy; sets the replica's egress. */
    readonly adopt: (replica: Replica) => Effect.Effect<void, PodEgressFailed>
    /**
     * The processes to enter to run a command in an app container (undefined when the container
     * or the pod's holder does not run).
     */
    readonly appProcesses: (
      pod: string,
      container: string,
    ) => Effect.Effect<AppProcesses | undefined>
    /**
     * Stops an app container (SIGTERM, then SIGKILL after `graceSeconds`), as the kubelet kills
     * one that failed its liveness probe; the reconciler sees it exit and restarts the replica.
     */
    readonly kill: (
      pod: string,
      container: string,
      graceSeconds: number,
    ) => Effect.Effect<void, PodmanError>
    /** Removes a pod no replica stands for. */
    readonly removeStray: (pod: string, replicaPod?: string) => Effect.Effect<void>
    /** The pods carrying this agent's owner label (none when Podman cannot list them). */
    readonly listOwned: () => Effect.Effect<ReadonlyArray<OwnedPod>>
  }
>()("@beemesh/agent/ReplicaPods") {
  static readonly layer = (options: ReplicaPodsOptions) => Layer.effect(ReplicaPods, make(options))
}

const make = (options: ReplicaPodsOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const configs = yield* ConfigStore
    const volumes = yield* PodVolumes
    const egress = yield* Egress
    const warm = yield* WarmPods
    const services = Layer.merge(Layer.succeed(PodmanClient, client), Layer.succeed(Egress, egress))
    const sameHost = options.sameHostDirectory

    /** A killed sidecar leaves its socket behind: remove the replica's with its pod. */
    const removeSockets = (workload: string, replica: string) =>
      sameHost === undefined
        ? Effect.void
        : removeSocketsOf(sameHost, workload.slice(0, workload.indexOf("/")), replica)

    /** Removes the sockets of pods that are gone (strays, pods removed while the agent was down). */
    const sweep = () =>
      sameHost === undefined
        ? Effect.void
        : sweepSockets(
            sameHost,
            listOwned().pipe(
              Effect.map((pods) =>
                pods.map((p) => ({
                  namespace: p.labels[LABEL_NAMESPACE] ?? "",
                  pod: p.labels[LABEL_REPLICA] ?? "",
                })),
              ),
            ),
          ).pipe(
            Effect.tap((n) =>
              n === 0 ? Effect.void : Effect.logInfo(`removed ${n} stale same-host sockets`),
            ),
          )

    const imageHint = (image: string) =>
      image === options.sidecarImage
        ? `build the sidecar image first: tooling/run pnpm --filter @beemesh/sidecar image`
        : `build or load ${image} into this host's Podman image store (podman build -t ${image} …); nothing is pulled`

    const imagesOf = Effect.fn("ReplicaPods.imagesOf")(function* (workload: Workload) {
      const ids: Array<string> = []
      for (const container of workload.containers) {
        const image = yield* client.images.inspect(container.image).pipe(
          Effect.mapError(
            (error) =>
              new DeployFailed({
                namespace: workload.namespace,
                name: workload.name,
                reason:
                  error._tag === "NotFound"
                    ? `container ${container.name}: image ${container.image} is not in this host's image store; ${imageHint(container.image)}`
                    : `container ${container.name}: inspecting image ${container.image} failed: ${error.message}`,
                fault: error._tag === "NotFound" ? "client" : "server",
              }),
          ),
        )
        ids.push(image.Id)
      }
      return imagesHash(ids)
    })

    /** The creation of the replica's pod; its sidecar's registration waits for it (Manager). */
    const create = (workload: Workload, replica: Replica, images: string) =>
      Effect.gen(function* () {
        const creating = yield* Deferred.make<boolean>()
        replica.creating = creating
        yield* createPod(workload, replica, images).pipe(
          Effect.onExit((exit) =>
            Effect.suspend(() => {
              if (replica.creating === creating) replica.creating = undefined
              return Deferred.succeed(creating, exit._tag === "Success")
            }),
          ),
        )
      })

    const createPod = Effect.fn("ReplicaPods.create")(function* (
      workload: Workload,
      replica: Replica,
      images: string,
    ) {
      // Ready again once its new sidecar registers (which may happen before this returns).
      replica.ready = false
      // Resolved now, from the objects as they are: the state keeps references, never values.
      const lookup = lookupIn(configs.objects, workload.namespace)
      const envs: Array<Record<string, string>> = []
      for (const container of workload.containers) {
        const resolved = resolveEnv(container, lookup)
        if ("problem" in resolved)
          return yield* new DeployFailed({
            namespace: workload.namespace,
            name: workload.name,
            reason: `replica ${replica.name}, container ${container.name}: ${resolved.problem}`,
            fault: "client",
          })
        envs.push(resolved.env)
      }
      const podName = podNameOf(workload, replica.name)
      const paths =
        workload.volumes === undefined
          ? undefined
          : yield* volumes.prepare(podName, workload, lookup).pipe(
              Effect.mapError(
                (error) =>
                  new DeployFailed({
                    namespace: workload.namespace,
                    name: workload.name,
                    reason: `replica ${replica.name}: ${error.message}`,
                    fault: error.fault,
                  }),
              ),
            )
      // A pod made ahead of need, when one is ready: its network, policy and sidecar are there.
      const standby = yield* warm.take()
      // Taken, it is this creation's: whatever fails from here on (a defect too) removes it.
      const abandon =
        standby === undefined
          ? Effect.void
          : standby
              .retire()
              .pipe(
                Effect.andThen(
                  destroyEnforcedPod({ name: standby.name, egress: standby.egress }, 0).pipe(
                    Effect.provide(services),
                    Effect.ignore,
                  ),
                ),
              )
      const { pod, spec } = yield* Effect.gen(function* () {
        const hostPort = standby?.hostPort ?? (yield* allocateHostPort(options.advertiseHost))
        // A new pod, a new generation: the tokens of the pods this name had before are void. Both
        // set before the pod starts: its sidecar's first registration (which may come before this
        // returns) is checked against them.
        replica.generation = newGeneration()
        replica.hostPort = hostPort
        const spec = replicaPodSpec(
          workload,
          { name: replica.name, generation: replica.generation },
          hostPort,
          options,
          images,
          envs,
          paths,
        )
        const podOptions = { owner: options.owner, imageHint, rootless: options.rootless }
        // Never touches a pod it did not create (the name may be another's); removes what it did.
        const made =
          standby === undefined
            ? createEnforcedPod(spec, podOptions).pipe(
                Effect.map((pod) => ({
                  name: pod.name,
                  hostPort: pod.hostPort,
                  egress: pod.egress,
                })),
              )
            : claim(replica, spec, standby, podOptions)
        const pod = yield* made.pipe(
          Effect.provide(services),
          // A sidecar that started before the creation failed may have made its socket.
          Effect.tapError(() => removeSockets(replica.workload, replica.name)),
          // The directory is this agent's even when the name is another's pod: never left behind.
          Effect.tapError(() => (paths === undefined ? Effect.void : volumes.release(podName))),
          Effect.mapError(
            (error) =>
              new DeployFailed({
                namespace: workload.namespace,
                name: workload.name,
                reason: `replica ${replica.name}: ${error.message}`,
                fault:
                  error._tag === "ImageMissing" ||
                  error._tag === "PodSpecInvalid" ||
                  error._tag === "NameInUse"
                    ? "client"
                    : "server",
              }),
          ),
          // The pod was not left behind (see createEnforcedPod): nothing holds that token.
          Effect.tapError(() =>
            Effect.sync(() => {
              replica.generation = undefined
              replica.hostPort = undefined
              replica.podman = replica.pod
            }),
          ),
        )
        return { pod, spec }
      }).pipe(Effect.onError(() => abandon))
      replica.podman = pod.name
      replica.egress = pod.egress
      replica.hostPort = pod.hostPort
      replica.phase = "Running"
      replica.message = undefined
      replica.spec = revisionOf(specHash(workload, options), images)
      replica.startedAt = yield* Clock.currentTimeMillis
      yield* recordEvent(
        replica,
        "Created",
        standby === undefined
          ? `pod ${pod.name} created and started with its egress policy in force; sidecar on ${options.advertiseHost}:${pod.hostPort}`
          : `standby pod ${pod.name} claimed (made ahead of need, its egress policy in force); sidecar on ${options.advertiseHost}:${pod.hostPort}`,
      )
      yield* recordEvent(
        replica,
        "Started",
        `containers ${spec.containers.map((c) => c.name).join(", ")} started`,
      )
      yield* Effect.logInfo(
        `replica ${workloadKey(workload.namespace, replica.name)} running as pod ${pod.name}${standby === undefined ? "" : " (a standby pod claimed)"} (sidecar published on ${options.advertiseHost}:${pod.hostPort})`,
      )
    })

    /**
     * Claims a standby pod for `spec`: its sidecar is handed the replica's environment once the
     * claim is checked, while the apps are added (with the pod's name as their hostname, and its
     * host entries). A failed claim leaves no pod: `create` removes the standby pod it took.
     */
    const claim = (
      replica: Replica,
      spec: PodSpecInput,
      standby: StandbyPod,
      podOptions: { readonly owner: string; readonly rootless: boolean },
    ) => {
      const sidecarEnv = spec.containers.find((c) => c.role === "sidecar")?.env ?? {}
      // Its sidecar may register before the claim returns: its pod is looked at by this name.
      replica.podman = standby.name
      return claimStandbyPod(
        { ...spec, name: standby.name, hostname: spec.name },
        { ...podOptions, imageHint, onChecked: standby.handOver(sidecarEnv) },
      ).pipe(Effect.as({ name: standby.name, hostPort: standby.hostPort, egress: standby.egress }))
    }

    const destroy = Effect.fn("ReplicaPods.destroy")(function* (replica: Replica, stop?: PodStop) {
      yield* destroyEnforcedPod({ name: replica.podman, egress: replica.egress, stop }).pipe(
        Effect.provide(services),
        Effect.mapError(
          (error) => new PodNotRemoved({ pod: replica.podman, reason: error.message }),
        ),
      )
      yield* removeSockets(replica.workload, replica.name)
      yield* volumes.release(replica.pod)
      replica.egress = undefined
      replica.ready = false
      // Its sidecar could still unregister while the pod stopped; from now on its token is void.
      replica.generation = undefined
    })

    const stop = (replicas: ReadonlyArray<Replica>) =>
      stopPods(replicas.map((r) => r.podman)).pipe(Effect.provideService(PodmanClient, client))

    /** How a container ended: its exit code and the tail of its output (bounded). */
    const exitOf = (pod: string, container: string) =>
      Effect.gen(function* () {
        const inspect = yield* client.containers.inspect(container).pipe(Effect.option)
        const logs = yield* client.containers
          .logs(container, { tail: LOG_TAIL_LINES })
          .pipe(Effect.orElseSucceed(() => ({ stdout: "", stderr: "" })))
        return {
          container: container.startsWith(`${pod}-`) ? container.slice(pod.length + 1) : container,
          exitCode: inspect._tag === "Some" ? inspect.value.State.ExitCode : -1,
          logTail: logTail(logs.stdout, logs.stderr),
        }
      })

    /**
     * Why `pod` is not whole. `slirps` lists the host's slirp4netns processes, read at most once
     * per call of `diagnoseAll`: each read walks all of /proc (a thousand processes with 110 pods),
     * and a walk per pod made every safety scan cost the square of the pod count.
     */
    const diagnoseWith = (pod: string, slirps: Effect.Effect<ReadonlyArray<SlirpProcess>>) =>
      Effect.gen(function* () {
        const inspect = yield* client.pods.inspect(pod).pipe(Effect.option)
        if (inspect._tag === "None") return { message: "pod is gone" }
        const down = (inspect.value.Containers ?? []).filter((c) => c.State !== "running")
        // A container being stopped is only named when nothing else is down: its exit is coming.
        const first = down.find((c) => c.State !== "stopping") ?? down[0]
        if (first !== undefined) {
          // Podman says "stopped" between a container's exit and its clean-up, "exited" after: both
          // are an exit with a code (a pass woken by the exit event often sees "stopped").
          const state = first.State === "stopped" ? "exited" : first.State
          const message = `container ${down.map((c) => c.Name).join(", ")} is ${state}`
          if (state === "stopping") return { message, stopping: true as const }
          // The holder owns the pod's network: without it the pod is gone, whatever exit code.
          if (first.Name === holderName(pod) || state !== "exited") return { message }
          const exited = yield* exitOf(pod, first.Name)
          return { message: `${message} with code ${exited.exitCode}`, exited }
        }
        const holderId = inspect.value.Containers?.find((c) => c.Name === holderName(pod))?.Id
        const sandbox = yield* sandboxOf(pod, holderId)
        if (
          sandbox !== undefined &&
          sandbox !== "" &&
          !(yield* slirps).some((p) => p.args.some((arg) => arg.includes(sandbox)))
        )
          return { message: "slirp4netns is gone" }
        return undefined
      })

    /**
     * The network namespace of a running holder does not change while it runs: read once per
     * holder container, so that a safety scan asks Podman one question per pod, not two.
     */
    const sandboxes = new Map<string, string>()
    const sandboxOf = (pod: string, holderId: string | undefined) =>
      Effect.gen(function* () {
        const known = holderId === undefined ? undefined : sandboxes.get(holderId)
        if (known !== undefined) return known
        const holder = yield* client.containers.inspect(holderName(pod)).pipe(Effect.option)
        const sandbox =
          holder._tag === "Some" ? holder.value.NetworkSettings?.SandboxKey : undefined
        if (holder._tag === "Some" && holder.value.Id === holderId && sandbox)
          sandboxes.set(holderId, sandbox)
        return sandbox
      })

    /**
     * The host's slirp4netns processes, read on first use and kept for the rest of a pass (an
     * empty needle matches them all; the walk leaves the event loop free between processes).
     */
    const slirpScan = Effect.cached(findSlirpProcesses())

    const diagnose = Effect.fn("ReplicaPods.diagnose")(function* (pod: string) {
      return yield* diagnoseWith(pod, yield* slirpScan)
    })

    const diagnoseAll = Effect.fn("ReplicaPods.diagnoseAll")(function* (
      pods: ReadonlyArray<string>,
    ) {
      const slirps = yield* slirpScan
      const problems = yield* Effect.forEach(pods, (pod) => diagnoseWith(pod, slirps))
      // Holders of pods that went away (a pass sees every replica that runs).
      if (sandboxes.size > 2 * pods.length + 16) sandboxes.clear()
      return problems
    })

    const changes = () =>
      client.events({ type: ["container", "pod"] }).pipe(
        Stream.map(changedPod(options.owner)),
        Stream.filter((pod): pod is string => pod !== undefined),
      )

    const adopt = Effect.fn("ReplicaPods.adopt")(function* (replica: Replica) {
      replica.egress = yield* adoptEnforcedPod(replica.podman, {
        rootless: options.rootless,
      }).pipe(Effect.provide(services))
      replica.startedAt = yield* Clock.currentTimeMillis
      // Where its sidecar is published, as Podman bound it (on the holder, which owns the pod's
      // network): the address its sidecar may register.
      const holder = yield* client.containers
        .inspect(holderName(replica.podman))
        .pipe(Effect.option)
      const bound =
        holder._tag === "Some"
          ? holder.value.HostConfig.PortBindings?.[`${SIDECAR_PORT}/tcp`]?.[0]?.HostPort
          : undefined
      replica.hostPort = bound === undefined ? undefined : Number(bound)
    })

    const appProcesses = Effect.fn("ReplicaPods.appProcesses")(function* (
      pod: string,
      container: string,
    ) {
      const app = yield* client.containers
        .inspect(containerName(pod, container))
        .pipe(Effect.option)
      const holder = yield* client.containers.inspect(holderName(pod)).pipe(Effect.option)
      if (app._tag === "None" || holder._tag === "None") return undefined
      const appPid = app.value.State.Pid
      const holderPid = holder.value.State.Pid
      if (app.value.State.Status !== "running" || appPid <= 0 || holderPid <= 0) return undefined
      return { appPid, holderPid, rootless: options.rootless } satisfies AppProcesses
    })

    const kill = Effect.fn("ReplicaPods.kill")(function* (
      pod: string,
      container: string,
      graceSeconds: number,
    ) {
      yield* client.containers.stop(containerName(pod, container), { timeoutSeconds: graceSeconds })
    })

    const removeStray = (pod: string, replicaPod: string = pod) =>
      removePod(pod, 1).pipe(
        Effect.provideService(PodmanClient, client),
        Effect.andThen(Effect.suspend(sweep)),
        // Its volumes are kept under its replica's pod name (a claimed standby pod's differs).
        Effect.andThen(volumes.release(replicaPod)),
      )

    /**
     * A claimed standby pod's replica labels are on its apps (its own are the standby's): merged
     * in. A standby pod without apps is no replica's (WarmPods.ts removes those): left out.
     */
    const withClaims = (
      pods: ReadonlyArray<OwnedPod>,
    ): Effect.Effect<ReadonlyArray<OwnedPod>, PodmanError> =>
      Effect.gen(function* () {
        if (!pods.some((p) => p.labels[LABEL_STANDBY] !== undefined)) return pods
        const apps = yield* client.containers.list({
          labels: { [LABEL_OWNER]: options.owner, [LABEL_ROLE]: "app" },
        })
        const claims = new Map(apps.map((c) => [c.Labels?.[LABEL_POD] ?? c.PodName, c.Labels]))
        return pods.flatMap((p) => {
          if (p.labels[LABEL_STANDBY] === undefined) return [p]
          const labels = claims.get(p.name)
          if (labels == null) return []
          const claimed = Object.fromEntries(
            CLAIM_LABELS.flatMap((k) => (labels[k] === undefined ? [] : [[k, labels[k]]])),
          )
          return [{ name: p.name, labels: { ...p.labels, ...claimed } }]
        })
      })

    const listOwned = () =>
      client.pods.list({ labels: { [LABEL_OWNER]: options.owner } }).pipe(
        Effect.map((pods) => pods.map((p) => ({ name: p.Name, labels: p.Labels ?? {} }))),
        Effect.flatMap(withClaims),
        // By replica name (web-2 before web-10): replicas are created several at a time, so
        // Podman's order (by creation) differs from run to run; adoption and its reports should not.
        Effect.map((pods) =>
          [...pods].sort(
            Order.mapInput(podNameOrder, (p: OwnedPod) =>
              p.labels[LABEL_STANDBY] === undefined
                ? p.name
                : podNameOf(
                    { namespace: p.labels[LABEL_NAMESPACE] ?? "" },
                    p.labels[LABEL_REPLICA] ?? "",
                  ),
            ),
          ),
        ),
        Effect.tapError((e) => Effect.logWarning(`listing owned pods failed: ${e.message}`)),
        Effect.orElseSucceed(() => []),
      )

    // Sockets of pods removed while the agent was down.
    yield* sweep()

    return ReplicaPods.of({
      create,
      imagesOf,
      destroy,
      stop,
      reap: reapSlirps,
      diagnose,
      diagnoseAll,
      changes,
      adopt,
      removeStray,
      listOwned,
      appProcesses,
      kill,
    })
  })

/** The labels naming the replica a claimed standby pod serves (on its apps). */
const CLAIM_LABELS = [
  LABEL_NAMESPACE,
  LABEL_WORKLOAD,
  LABEL_REPLICA,
  LABEL_GENERATION,
  LABEL_SPEC,
  LABEL_IMAGES,
]

/** The owned pod an event is about, when it is a change that can leave a replica not whole. */
const changedPod =
  (owner: string) =>
  (event: PodmanEvent): string | undefined => {
    if (event.type === "container")
      return (event.action === "died" || event.action === "remove") &&
        event.attributes[LABEL_OWNER] === owner
        ? event.attributes[LABEL_POD]
        : undefined
    return event.type === "pod" && (event.action === "remove" || event.action === "stop")
      ? event.name
      : undefined
  }

/** The last lines of a container's output, each cut to a bounded length. */
const logTail = (stdout: string, stderr: string) =>
  [...stdout.split("\n"), ...stderr.split("\n")]
    .map((line) => line.trimEnd())
    .filter((line) => line !== "")
    .slice(-LOG_TAIL_LINES)
    .map((line) => (line.length > LOG_LINE_MAX ? `${line.slice(0, LOG_LINE_MAX - 1)}…` : line))
