/**
 * Isolated pods, and the one module that makes a pod's isolation whole.
 *
 * An isolated pod has one private network namespace (owned by its holder container) wired to the
 * outside only through slirp4netns, the sidecar's port 8080 published on a host port, and app
 * containers without ports, each in a user namespace of its own whose IDs never include the
 * sidecar's UID (`createIsolatedPod`, `makeIsolatedPod`; the requests are in PodRequests.ts).
 *
 * An enforced pod is an isolated pod whose egress policy (nftables, `Egress` of @beemesh/netns) is
 * in force in that namespace before any container but the holder runs. The policy lets out the
 * sidecar's UID as seen from the namespace's own user namespace, which no app process can be.
 * Everything that guarantee takes is here, so no caller sequences it: `createEnforcedPod` (pod,
 * holder only, policy, then the sidecar, then the apps; a pod whose policy cannot be applied is
 * removed, never started),
 * `adoptEnforcedPod` (verify a running pod's policy, re-apply it if missing), `destroyEnforcedPod`
 * (the pod first, then its rules) and the scoped `makeEnforcedPod`.
 */
import {
  type AppliedEgress,
  Egress,
  type EgressPolicy,
  gatewayAddress,
  type NamespaceTarget,
  podEgressPolicy,
} from "@beemesh/netns"
import { Effect, Result, type Scope } from "effect"
import {
  type HolderImageUnavailable,
  ImageMissing,
  NameInUse,
  PodEgressFailed,
  type PodmanError,
  PodSpecInvalid,
} from "./Errors.js"
import { ensureHolderImage } from "./HolderImage.js"
import { IMAGE_HINT, isPortTaken } from "./internal/failures.js"
import { ownerLabels } from "./internal/owner.js"
import { LABEL_POD, LABEL_STOP_TIMEOUT } from "./Ownership.js"
import { PodmanClient } from "./PodmanClient.js"
import {
  allocateHostPort,
  containerCreateRequest,
  containerName,
  holderCreateRequest,
  holderName,
  podCreateRequest,
} from "./PodRequests.js"
import {
  decodePodSpec,
  type PodSpec,
  type PodSpecInput,
  rootUserProblem,
  SIDECAR_PORT,
} from "./PodSpec.js"
import { awaitStopped, type PodStop, reapSlirps, removeStoppedPod, stopPod } from "./PodStop.js"

export interface IsolatedPodOptions {
  /** Who owns the pod (e.g. the agent's peer id); written to `io.beemesh.owner`. */
  readonly owner: string
  /** How to build an image that is missing, for the error message. */
  readonly imageHint?: (image: string) => string
  /**
   * Start every container (default). With false only the holder runs: the pod's network
   * namespace and slirp4netns exist, nothing else does (what `createEnforcedPod` builds on).
   */
  readonly startApps?: boolean
  /**
   * Podman runs rootless: apps' ID maps are drawn from the user's subordinate IDs, and the pod's
   * namespaces belong to Podman's user namespace, which nft must enter to hold capabilities there.
   */
  readonly rootless?: boolean
  /** The holder's image (default: built from the host's catatonit, see HolderImage.ts). */
  readonly holderImage?: string
  /** The static catatonit the default holder image is built from (default /usr/bin/catatonit). */
  readonly catatonit?: string
  /**
   * A standby pod: its spec has the sidecar only, the apps come later with `claimStandbyPod`
   * (see `createStandbyPod`).
   */
  readonly standby?: boolean
}

export interface IsolatedPod {
  readonly name: string
  readonly id: string
  /** The container that owns the pod's network namespace (its Podman name and ID). */
  readonly holder: string
  readonly holderContainerId: string
  /** Where the sidecar's port 8080 is published. */
  readonly hostIp: string
  readonly hostPort: number
  /** The address `host.containers.internal` resolves to inside the pod (the host's loopback). */
  readonly hostGateway: string
  /** Podman container names. */
  readonly sidecar: string
  readonly apps: ReadonlyArray<string>
  readonly spec: PodSpec
}

/**
 * Validates the spec and checks images and the name, then creates and starts the pod. Nothing is
 * created when a check fails; a failure after creation removes what was created.
 */
export const createIsolatedPod = Effect.fn("IsolatedPod.create")(function* (
  input: PodSpecInput,
  options: IsolatedPodOptions,
) {
  const client = yield* PodmanClient
  const spec = yield* decodePodSpec(input, { standby: options.standby ?? false })
  // The look-ups do not depend on each other: one round trip's time for all of them. Their
  // failures are then reported in a fixed order (a missing image before a taken name).
  const images = [...new Set(spec.containers.map((c) => c.image))]
  const [present, nameTaken, holder] = yield* Effect.all(
    [
      Effect.forEach(images, (image) => client.images.exists(image), {
        concurrency: "unbounded",
      }),
      client.pods.exists(spec.name),
      options.holderImage === undefined
        ? Effect.result(ensureHolderImage(options.catatonit))
        : Effect.succeed(Result.succeed(options.holderImage)),
    ],
    { concurrency: "unbounded" },
  )
  const missing = images.find((_, i) => !present[i])
  if (missing !== undefined) {
    return yield* Effect.fail(
      new ImageMissing({ image: missing, hint: options.imageHint?.(missing) ?? IMAGE_HINT }),
    )
  }
  yield* refuseRootWhereNonRoot(spec)
  if (nameTaken) {
    return yield* Effect.fail(new NameInUse({ kind: "pod", name: spec.name }))
  }
  if (holder._tag === "Failure") return yield* Effect.fail(holder.failure)
  const holderImage = holder.success
  const hostIp = spec.hostIp ?? "127.0.0.1"
  const labels = { ...spec.labels, ...ownerLabels(options.owner), [LABEL_POD]: spec.name }
  const rootless = options.rootless ?? false
  const sidecar = spec.containers.find((c) => c.role === "sidecar")!
  const apps = spec.containers.filter((c) => c.role === "app")

  const build = (hostPort: number) =>
    Effect.gen(function* () {
      const id = yield* client.pods.create(podCreateRequest(spec, labels))
      // From here on the pod is ours: a failure removes it (never before: the name may be another's).
      const holderId = yield* Effect.gen(function* () {
        const holderId = yield* client.containers.create(
          holderCreateRequest(spec, hostIp, hostPort, labels, holderImage),
        )
        // The members join the holder's namespaces, so they need it created, not started: its
        // start (slirp4netns, the port) and their creation overlap.
        yield* Effect.all(
          [
            // The published port is bound here: a port taken meanwhile fails this start.
            client.containers.start(holderId),
            Effect.forEach(
              [sidecar, ...apps],
              (c) => client.containers.create(containerCreateRequest(spec, c, labels, rootless)),
              { concurrency: "unbounded", discard: true },
            ),
          ],
          { concurrency: "unbounded", discard: true },
        )
        if (options.startApps !== false) yield* startMembers(spec)
        return holderId
      }).pipe(Effect.onError(() => removePod(spec.name, 0)))
      return {
        name: spec.name,
        id,
        holder: holderName(spec.name),
        holderContainerId: holderId,
        hostIp,
        hostPort,
        hostGateway: gatewayAddress(spec.network),
        sidecar: containerName(spec.name, sidecar.name),
        apps: apps.map((c) => containerName(spec.name, c.name)),
        spec,
      } satisfies IsolatedPod
    })
  const attempt = build
  if (spec.hostPort !== undefined) return yield* attempt(spec.hostPort)
  // An allocated port can be taken by another process before Podman binds it: try a few ports.
  for (let tries = 1; ; tries++) {
    const result = yield* Effect.result(attempt(yield* allocateHostPort(hostIp)))
    if (result._tag === "Success") return result.success
    if (tries >= MAX_PORT_ATTEMPTS || !portWasTaken(result.failure))
      return yield* Effect.fail(result.failure)
  }
})

/** Containers that must run as non-root get their user from the spec, else from their image. */
const refuseRootWhereNonRoot = Effect.fnUntraced(function* (spec: PodSpec) {
  const client = yield* PodmanClient
  for (const [i, c] of spec.containers.entries()) {
    if (c.security?.runAsNonRoot !== true) continue
    const user = c.user ?? (yield* client.images.inspect(c.image)).Config?.User ?? ""
    const problem = rootUserProblem(user)
    if (problem !== undefined) {
      return yield* new PodSpecInvalid({
        field: `containers[${i}].security.runAsNonRoot`,
        reason: `container "${c.name}" must run as non-root but ${problem}${c.user === undefined ? ` (the USER of image ${c.image})` : ""}; set runAsUser to a non-zero UID, or use an image whose USER is a numeric non-root UID`,
      })
    }
  }
})

/**
 * Every member's `podman init` (its runtime's create: namespaces, mounts, cgroup), at once. None of
 * their processes runs until `startMembers`: this is the part of a start that runs no image code,
 * done while the pod's egress policy is being put in force.
 */
const initMembers = (spec: PodSpec) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    yield* Effect.forEach(
      spec.containers,
      (c) => client.containers.init(containerName(spec.name, c.name)),
      { concurrency: "unbounded", discard: true },
    )
  })

/** The sidecar first, then the apps: an app's first connection finds its way out already there. */
const startMembers = (spec: PodSpec) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const ordered = [
      ...spec.containers.filter((c) => c.role === "sidecar"),
      ...spec.containers.filter((c) => c.role === "app"),
    ]
    for (const c of ordered) yield* client.containers.start(containerName(spec.name, c.name))
  })

const MAX_PORT_ATTEMPTS = 3
const portWasTaken = (e: PodmanError | HolderImageUnavailable) =>
  e._tag === "RuntimeFailure" && isPortTaken(e.podmanMessage)

/**
 * Stops and removes a pod; a missing pod is fine. With `timeoutSeconds` every container gets
 * SIGTERM, then SIGKILL after that many seconds. Without, each container is stopped as what it does
 * with SIGTERM asks (Termination.ts): one whose main process does not catch it is killed at once,
 * the others get their own stop timeout (their grace period) and are removed as soon as they exit.
 * Fails when Podman could not remove it; slirp4netns processes of its network namespace that
 * outlive it are killed (a removal cut short leaves them running). PodStop.ts has the steps, for
 * callers that remove many pods at once.
 */
export const terminatePod = (
  name: string,
  timeoutSeconds?: number,
): Effect.Effect<void, PodmanError, PodmanClient> =>
  Effect.gen(function* () {
    const stop = yield* stopPod(name, timeoutSeconds)
    yield* awaitStopped(stop)
    yield* removeStoppedPod(stop)
    yield* reapSlirps([stop])
  })

/** Stops and removes a pod as `terminatePod` does; a failure is logged, never raised. */
export const removePod = (
  name: string,
  timeoutSeconds?: number,
): Effect.Effect<void, never, PodmanClient> =>
  terminatePod(name, timeoutSeconds).pipe(
    Effect.tapError((e) => Effect.logWarning(`removing pod ${name} failed: ${e.message}`)),
    Effect.ignore,
  )

/** The pod as a scoped resource: created and started now, stopped and removed with the scope. */
export const makeIsolatedPod = (
  input: PodSpecInput,
  options: IsolatedPodOptions,
): Effect.Effect<
  IsolatedPod,
  PodSpecInvalid | PodmanError | HolderImageUnavailable,
  PodmanClient | Scope.Scope
> => Effect.acquireRelease(createIsolatedPod(input, options), (pod) => removePod(pod.name))

// --- enforced pods: the egress policy in force before anything but the holder runs ---

export interface EnforcedPodOptions {
  /** The egress policy (default: sidecar-only, inbound to the sidecar's port 8080). */
  readonly policy?: EgressPolicy
  /** As in IsolatedPodOptions. */
  readonly rootless?: boolean
}

export interface EnforcedPod extends IsolatedPod {
  readonly egress: AppliedEgress
}

const policyOf = (options: EnforcedPodOptions) => options.policy ?? podEgressPolicy([SIDECAR_PORT])

/** The pod's network namespace, addressed through its holder's process. */
const podNamespace = (pod: string, options: EnforcedPodOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const holder = yield* client.containers.inspect(holderName(pod))
    if (!holder.State.Running || holder.State.Pid <= 0) {
      return yield* Effect.fail(
        `its holder container ${holder.Name} is ${holder.State.Status}, so the pod has no network namespace`,
      )
    }
    return { pid: holder.State.Pid, userns: options.rootless ?? false } satisfies NamespaceTarget
  })

const failedTo =
  (operation: "create" | "adopt", pod: string) => (error: string | { readonly message: string }) =>
    new PodEgressFailed({
      pod,
      operation,
      reason: typeof error === "string" ? error : error.message,
    })

/**
 * Creates the pod with only its holder running, puts the egress policy in force in its network
 * namespace (initializing the other containers meanwhile: `podman init`, which runs none of their
 * code), then starts the sidecar and then the apps. A pod whose policy cannot be put in force
 * (or that fails to start) is removed: no container but the holder has run in it.
 */
export const createEnforcedPod = Effect.fn("IsolatedPod.createEnforced")(function* (
  input: PodSpecInput,
  options: IsolatedPodOptions & EnforcedPodOptions,
) {
  const egress = yield* Egress
  const pod = yield* createIsolatedPod(input, { ...options, startApps: false })
  // From here on the pod is ours: anything short of "policy in force, then started" removes it.
  const removeIt = removePod(pod.name, 0)
  // The members are initialized meanwhile (`podman init` runs nothing of their images), so that
  // once the policy is in force, starting them is all that is left.
  const [applied] = yield* Effect.all(
    [
      podNamespace(pod.name, options).pipe(
        Effect.flatMap((target) => egress.install(target, policyOf(options))),
        Effect.mapError(failedTo("create", pod.name)),
      ),
      initMembers(pod.spec),
    ],
    { concurrency: "unbounded" },
  ).pipe(Effect.onError(() => removeIt))
  yield* startMembers(pod.spec).pipe(Effect.onError(() => removeIt))
  return { ...pod, egress: applied } satisfies EnforcedPod
})

/**
 * For a running pod found again (an agent restart): verifies that its egress policy is in force and
 * re-applies it when it is missing or differs. PodEgressFailed when it can be neither verified nor
 * re-applied: the caller must then recreate the pod.
 */
export const adoptEnforcedPod = Effect.fn("IsolatedPod.adoptEnforced")(function* (
  name: string,
  options: EnforcedPodOptions = {},
) {
  const egress = yield* Egress
  const policy = policyOf(options)
  return yield* podNamespace(name, options).pipe(
    Effect.flatMap((target) =>
      egress
        .verify(target, policy)
        .pipe(
          Effect.catchTag("EgressVerifyFailed", (problem) =>
            Effect.logWarning(
              `pod ${name}: ${problem.message}; re-applying its egress policy`,
            ).pipe(Effect.andThen(egress.install(target, policy))),
          ),
        ),
    ),
    Effect.mapError(failedTo("adopt", name)),
  )
})

/**
 * Stops and removes the pod (as `terminatePod`: `stopTimeoutSeconds` given, every container gets
 * that long; else each as what it does with SIGTERM asks), then releases its rules. In that order:
 * the rules hold while any of its containers may run, and they live in the pod's namespace, so once
 * the pod is gone releasing them is a no-op. A pod that could not be removed keeps its rules, and
 * the failure is returned. With `stop` (from `stopPod`: the pod is signalled already, as part of
 * many) it is removed once its members have exited, and its slirp4netns is left to the caller's
 * `reapSlirps`, which looks for all of them at once.
 */
export const destroyEnforcedPod = (
  pod: {
    readonly name: string
    readonly egress?: AppliedEgress | undefined
    readonly stop?: PodStop | undefined
  },
  stopTimeoutSeconds?: number,
): Effect.Effect<void, PodmanError, PodmanClient | Egress> =>
  Effect.gen(function* () {
    const egress = yield* Egress
    if (pod.stop === undefined) yield* terminatePod(pod.name, stopTimeoutSeconds)
    else yield* awaitStopped(pod.stop).pipe(Effect.andThen(removeStoppedPod(pod.stop)))
    if (pod.egress === undefined) return
    yield* egress.remove(pod.egress).pipe(
      Effect.tapError((e) => Effect.logWarning(`egress rules of pod ${pod.name}: ${e.message}`)),
      Effect.ignore,
    )
  })

/** The enforced pod as a scoped resource: released by `destroyEnforcedPod`. */
export const makeEnforcedPod = (
  input: PodSpecInput,
  options: IsolatedPodOptions & EnforcedPodOptions,
): Effect.Effect<
  EnforcedPod,
  PodSpecInvalid | PodmanError | HolderImageUnavailable | PodEgressFailed,
  PodmanClient | Egress | Scope.Scope
> =>
  Effect.acquireRelease(createEnforcedPod(input, options), (pod) =>
    destroyEnforcedPod(pod).pipe(
      Effect.tapError((e) => Effect.logWarning(`removing pod ${pod.name} failed: ${e.message}`)),
      Effect.ignore,
    ),
  )

// --- standby pods: made ahead of need, claimed by a replica later ---

/**
 * An enforced pod made before the replica it will serve is known: its spec has the sidecar only
 * (started in standby, see the contract's `Standby`), its holder, network namespace, slirp4netns,
 * published port and egress policy as `createEnforcedPod` makes them. `claimStandbyPod` adds the
 * apps. Its name and labels stay those of the standby pod (Podman cannot change them).
 */
export const createStandbyPod = (
  input: PodSpecInput,
  options: IsolatedPodOptions & EnforcedPodOptions,
) => createEnforcedPod(input, { ...options, standby: true })

export interface ClaimedPod {
  readonly name: string
  /** Podman container names of the apps added. */
  readonly apps: ReadonlyArray<string>
}

/**
 * Adds the apps of `input` to the standby pod it names (its sidecar entry is not created again:
 * the standby one runs): the spec's host entries go into the pod's hosts file, then the apps are
 * created, initialized and started — the pod's egress policy has been in force since the standby
 * pod was made. With `hostname` in the spec each app gets it in a UTS namespace of its own.
 * Images and users are checked first, and a failure there leaves the pod as it was; a failure
 * after that removes the pod (its sidecar may have been handed its identity meanwhile).
 */
export const claimStandbyPod = Effect.fn("IsolatedPod.claimStandby")(function* (
  input: PodSpecInput,
  options: IsolatedPodOptions & {
    /**
     * Run once the claim is checked, before its apps are created (and with them): where the
     * caller hands the standby sidecar its identity, so that it starts while the apps are made.
     */
    readonly onChecked?: Effect.Effect<void>
  },
) {
  const client = yield* PodmanClient
  const spec = yield* decodePodSpec(input)
  const apps = spec.containers.filter((c) => c.role === "app")
  const images = [...new Set(apps.map((c) => c.image))]
  const present = yield* Effect.forEach(images, (image) => client.images.exists(image), {
    concurrency: "unbounded",
  })
  const missing = images.find((_, i) => !present[i])
  if (missing !== undefined) {
    return yield* Effect.fail(
      new ImageMissing({ image: missing, hint: options.imageHint?.(missing) ?? IMAGE_HINT }),
    )
  }
  yield* refuseRootWhereNonRoot(spec)
  const labels = {
    ...spec.labels,
    ...ownerLabels(options.owner),
    [LABEL_POD]: spec.name,
    // The holder's stop timeout is the standby pod's: the apps carry their own grace period.
    ...(spec.stopTimeoutSeconds === undefined
      ? {}
      : { [LABEL_STOP_TIMEOUT]: String(spec.stopTimeoutSeconds) }),
  }
  const rootless = options.rootless ?? false
  if (options.onChecked !== undefined) yield* options.onChecked
  yield* Effect.gen(function* () {
    if (spec.hosts !== undefined && spec.hosts.length > 0)
      yield* client.containers.addHosts(holderName(spec.name), spec.hosts)
    yield* Effect.forEach(
      apps,
      (c) => client.containers.create(containerCreateRequest(spec, c, labels, rootless)),
      { concurrency: "unbounded", discard: true },
    )
    yield* Effect.forEach(apps, (c) => client.containers.start(containerName(spec.name, c.name)), {
      concurrency: "unbounded",
      discard: true,
    })
  }).pipe(Effect.onError(() => removePod(spec.name, 0)))
  return {
    name: spec.name,
    apps: apps.map((c) => containerName(spec.name, c.name)),
  } satisfies ClaimedPod
})
