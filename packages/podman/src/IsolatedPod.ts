/**
 * An isolated pod as a scoped resource: one private network namespace (held by the infra container)
 * wired to the outside only through slirp4netns with the given options, the sidecar's port 8080
 * published on a host port, app containers without ports. Release stops (short timeout) and
 * removes the pod with its containers; slirp4netns goes with the infra container.
 */
import { createServer } from "node:net"
import { gatewayAddress, renderPodmanNetworkOptions } from "@beemesh/netns"
import { Effect, type Scope } from "effect"
import { ImageMissing, NameInUse, type PodmanError, type PodSpecInvalid } from "./Errors.js"
import { containerLimits } from "./internal/limits.js"
import { LABEL_POD, LABEL_ROLE, ownerLabels } from "./Ownership.js"
import {
  type ContainerCreateRequest,
  IMAGE_HINT,
  type PodCreateRequest,
  PodmanClient,
} from "./PodmanClient.js"
import {
  type ContainerSpec,
  decodePodSpec,
  type PodSpec,
  type PodSpecInput,
  SIDECAR_PORT,
} from "./PodSpec.js"

export interface IsolatedPodOptions {
  /** Who owns the pod (e.g. the agent's peer id); written to `io.beemesh.owner`. */
  readonly owner: string
  /** How to build an image that is missing, for the error message. */
  readonly imageHint?: (image: string) => string
  /**
   * Start every container (default). With false only the infra container runs: the pod's network
   * namespace and slirp4netns exist, so the caller can set it up (egress rules) before the sidecar
   * and the apps start with `pods.start`.
   */
  readonly startApps?: boolean
}

export interface IsolatedPod {
  readonly name: string
  readonly id: string
  readonly infraContainerId: string
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

export const containerName = (pod: string, container: string) => `${pod}-${container}`

/** A free TCP port on `host`, found by binding port 0. Another process may take it before Podman does. */
export const allocateHostPort = (host: string): Effect.Effect<number> =>
  Effect.callback<number>((resume) => {
    const server = createServer()
    server.once("error", (e) => resume(Effect.die(e)))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** The Podman pod-create request for a validated spec (pure; exported for tests). */
export const podCreateRequest = (
  spec: PodSpec,
  hostIp: string,
  hostPort: number,
  labels: Readonly<Record<string, string>>,
): PodCreateRequest => ({
  name: spec.name,
  labels,
  netns: { nsmode: "slirp4netns" },
  network_options: { slirp4netns: renderPodmanNetworkOptions(spec.network) },
  // Podman 4.3 otherwise points this name at the host's primary address, which a loopback-bound
  // agent does not answer; slirp4netns maps the CIDR's .2 to the host's loopback.
  hostadd: [`host.containers.internal:${gatewayAddress(spec.network)}`],
  portmappings: [
    { host_ip: hostIp, host_port: hostPort, container_port: SIDECAR_PORT, protocol: "tcp" },
  ],
  share: ["net", "ipc", "uts"],
})

const seconds = (s: number) => Math.round(s * 1e9)

/** The Podman container-create request for one container of the spec (pure; exported for tests). */
export const containerCreateRequest = (
  spec: PodSpec,
  c: ContainerSpec,
  labels: Readonly<Record<string, string>>,
): ContainerCreateRequest => {
  const limits = spec.rlimits ?? containerLimits()
  const r = c.resources
  return {
    name: containerName(spec.name, c.name),
    image: c.image,
    pod: spec.name,
    labels: { ...labels, [LABEL_ROLE]: c.role },
    // Podman's defaults (nofile 1048576) exceed the hard limits of these hosts: runc's setrlimit fails.
    r_limits: [
      { type: "nofile", hard: limits.nofile, soft: limits.nofile },
      { type: "nproc", hard: limits.nproc, soft: limits.nproc },
    ],
    oci_runtime: spec.ociRuntime ?? "runc",
    stop_timeout: spec.stopTimeoutSeconds ?? 2,
    ...(c.command ? { command: c.command } : {}),
    ...(c.entrypoint ? { entrypoint: c.entrypoint } : {}),
    ...(c.env ? { env: c.env } : {}),
    ...(c.user ? { user: c.user } : {}),
    ...(c.workdir ? { work_dir: c.workdir } : {}),
    ...(c.mounts
      ? {
          mounts: c.mounts.map((m) => ({
            type: "bind" as const,
            source: m.source,
            destination: m.destination,
            options: m.readOnly ? ["ro"] : [],
          })),
        }
      : {}),
    ...(r && (r.memoryBytes !== undefined || r.cpus !== undefined || r.pids !== undefined)
      ? {
          resource_limits: {
            ...(r.memoryBytes !== undefined ? { memory: { limit: r.memoryBytes } } : {}),
            ...(r.cpus !== undefined
              ? { cpu: { quota: Math.round(r.cpus * 100_000), period: 100_000 } }
              : {}),
            ...(r.pids !== undefined ? { pids: { limit: r.pids } } : {}),
          },
        }
      : {}),
    ...(c.healthcheck
      ? {
          healthconfig: {
            Test: ["CMD", ...c.healthcheck.command],
            Interval: seconds(c.healthcheck.intervalSeconds ?? 30),
            Timeout: seconds(c.healthcheck.timeoutSeconds ?? 5),
            Retries: c.healthcheck.retries ?? 3,
          },
        }
      : {}),
  }
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
  const spec = yield* decodePodSpec(input)
  for (const image of new Set(spec.containers.map((c) => c.image))) {
    if (!(yield* client.images.exists(image))) {
      return yield* Effect.fail(
        new ImageMissing({ image, hint: options.imageHint?.(image) ?? IMAGE_HINT }),
      )
    }
  }
  if (yield* client.pods.exists(spec.name)) {
    return yield* Effect.fail(new NameInUse({ kind: "pod", name: spec.name }))
  }
  const hostIp = spec.hostIp ?? "127.0.0.1"
  const labels = { ...spec.labels, ...ownerLabels(options.owner), [LABEL_POD]: spec.name }

  const build = (hostPort: number) =>
    Effect.gen(function* () {
      const id = yield* client.pods.create(podCreateRequest(spec, hostIp, hostPort, labels))
      // From here on the pod is ours: a failure removes it (never before: the name may be another's).
      const inspected = yield* Effect.gen(function* () {
        for (const c of spec.containers) {
          yield* client.containers.create(containerCreateRequest(spec, c, labels))
        }
        if (options.startApps === false) {
          const created = yield* client.pods.inspect(spec.name)
          yield* client.containers.start(created.InfraContainerID ?? "")
        } else {
          yield* client.pods.start(spec.name)
        }
        return yield* client.pods.inspect(spec.name)
      }).pipe(Effect.onError(() => removePod(spec.name, 0)))
      return {
        name: spec.name,
        id,
        infraContainerId: inspected.InfraContainerID ?? "",
        hostIp,
        hostPort,
        hostGateway: gatewayAddress(spec.network),
        sidecar: containerName(spec.name, spec.containers.find((c) => c.role === "sidecar")!.name),
        apps: spec.containers
          .filter((c) => c.role === "app")
          .map((c) => containerName(spec.name, c.name)),
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

const MAX_PORT_ATTEMPTS = 3
const portWasTaken = (e: PodmanError) =>
  e._tag === "RuntimeFailure" && /address already in use/.test(e.podmanMessage)

/** Stops (SIGTERM, then SIGKILL after `timeoutSeconds`) and removes a pod; a missing pod is fine. */
export const removePod = (
  name: string,
  timeoutSeconds: number,
): Effect.Effect<void, never, PodmanClient> =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    yield* client.pods.stop(name, { timeoutSeconds }).pipe(Effect.ignore)
    yield* client.pods.remove(name, { force: true, timeoutSeconds }).pipe(
      Effect.catchTag("NotFound", () => Effect.void),
      Effect.tapError((e) => Effect.logWarning(`removing pod ${name} failed: ${e.message}`)),
      Effect.ignore,
    )
  })

/** The pod as a scoped resource: created and started now, stopped and removed with the scope. */
export const makeIsolatedPod = (
  input: PodSpecInput,
  options: IsolatedPodOptions,
): Effect.Effect<IsolatedPod, PodSpecInvalid | PodmanError, PodmanClient | Scope.Scope> =>
  Effect.acquireRelease(createIsolatedPod(input, options), (pod) =>
    removePod(pod.name, pod.spec.stopTimeoutSeconds ?? 2),
  )
