/**
 * The pods of replicas over Podman and Egress: create one enforced (its egress policy in force
 * before the sidecar or any app runs), destroy one (the pod before its rules), say why one is not
 * whole, take over one found running. Thin I/O; the policy of when to do what is the workload
 * manager's and the reconciler's.
 */
import { Egress } from "@beemesh/netns"
import {
  adoptEnforcedPod,
  allocateHostPort,
  createEnforcedPod,
  destroyEnforcedPod,
  holderName,
  LABEL_OWNER,
  type PodEgressFailed,
  PodmanClient,
  removePod,
  slirpProcessesFor,
} from "@beemesh/podman"
import { Context, Effect, Layer } from "effect"
import type { Workload } from "../Manifest"
import { DeployFailed } from "../Workloads"
import {
  imagesHash,
  replicaPodSpec,
  revisionOf,
  specHash,
  type TemplateOptions,
  workloadKey,
} from "./PodTemplate"
import { type Replica, recordEvent } from "./WorkloadTable"

export interface ReplicaPodsOptions extends TemplateOptions {
  /** Stable identity of this agent (its peer id): the owner label of every pod it creates. */
  readonly owner: string
  /** Podman runs rootless (pod namespaces are owned by a user namespace). */
  readonly rootless: boolean
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
    /** Removes the replica's pod (then its egress rules); it is no longer ready. */
    readonly destroy: (replica: Replica) => Effect.Effect<void>
    /** Why the replica's pod is not whole, or undefined when it is. */
    readonly diagnose: (pod: string) => Effect.Effect<string | undefined>
    /** Verifies (or re-applies) a running pod's egress policy; sets the replica's egress. */
    readonly adopt: (replica: Replica) => Effect.Effect<void, PodEgressFailed>
    /** Removes a pod no replica stands for. */
    readonly removeStray: (pod: string) => Effect.Effect<void>
    /** The pods carrying this agent's owner label (none when Podman cannot list them). */
    readonly listOwned: () => Effect.Effect<ReadonlyArray<OwnedPod>>
  }
>()("@beemesh/agent/ReplicaPods") {
  static readonly layer = (options: ReplicaPodsOptions) => Layer.effect(ReplicaPods, make(options))
}

const make = (options: ReplicaPodsOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const egress = yield* Egress
    const services = Layer.merge(Layer.succeed(PodmanClient, client), Layer.succeed(Egress, egress))

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

    const create = Effect.fn("ReplicaPods.create")(function* (
      workload: Workload,
      replica: Replica,
      images: string,
    ) {
      // Ready again once its new sidecar registers (which may happen before this returns).
      replica.ready = false
      const hostPort = yield* allocateHostPort(options.advertiseHost)
      const spec = replicaPodSpec(workload, replica.name, hostPort, options, images)
      // Never touches a pod it did not create (the name may be another's); removes what it did.
      const pod = yield* createEnforcedPod(spec, {
        owner: options.owner,
        imageHint,
        rootless: options.rootless,
      }).pipe(
        Effect.provide(services),
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
      )
      replica.egress = pod.egress
      replica.hostPort = pod.hostPort
      replica.phase = "Running"
      replica.message = undefined
      replica.spec = revisionOf(specHash(workload, options), images)
      yield* recordEvent(
        replica,
        "Created",
        `pod ${pod.name} created and started with its egress policy in force; sidecar on ${pod.hostIp}:${pod.hostPort}`,
      )
      yield* Effect.logInfo(
        `replica ${workloadKey(workload.namespace, replica.name)} running as pod ${pod.name} (sidecar published on ${pod.hostIp}:${pod.hostPort})`,
      )
    })

    const destroy = Effect.fn("ReplicaPods.destroy")(function* (replica: Replica) {
      yield* destroyEnforcedPod({ name: replica.pod, egress: replica.egress }, 2).pipe(
        Effect.provide(services),
      )
      replica.egress = undefined
      replica.ready = false
    })

    const diagnose = Effect.fn("ReplicaPods.diagnose")(function* (pod: string) {
      const inspect = yield* client.pods.inspect(pod).pipe(Effect.option)
      if (inspect._tag === "None") return "pod is gone"
      const down = (inspect.value.Containers ?? []).filter((c) => c.State !== "running")
      if (down.length > 0)
        return `container ${down.map((c) => c.Name).join(", ")} is ${down[0]!.State}`
      const holder = yield* client.containers.inspect(holderName(pod)).pipe(Effect.option)
      const sandbox = holder._tag === "Some" ? holder.value.NetworkSettings?.SandboxKey : undefined
      if (sandbox !== undefined && sandbox !== "" && slirpProcessesFor(sandbox).length === 0)
        return "slirp4netns is gone"
      return undefined
    })

    const adopt = Effect.fn("ReplicaPods.adopt")(function* (replica: Replica) {
      replica.egress = yield* adoptEnforcedPod(replica.pod, { rootless: options.rootless }).pipe(
        Effect.provide(services),
      )
    })

    const removeStray = (pod: string) =>
      removePod(pod, 1).pipe(Effect.provideService(PodmanClient, client))

    const listOwned = () =>
      client.pods.list({ labels: { [LABEL_OWNER]: options.owner } }).pipe(
        Effect.map((pods) => pods.map((p) => ({ name: p.Name, labels: p.Labels ?? {} }))),
        Effect.tapError((e) => Effect.logWarning(`listing owned pods failed: ${e.message}`)),
        Effect.orElseSucceed(() => []),
      )

    return ReplicaPods.of({
      create,
      imagesOf,
      destroy,
      diagnose,
      adopt,
      removeStray,
      listOwned,
    })
  })
