/**
 * The typed description of an isolated pod and the rules it must meet before anything is created:
 * DNS-1123 names, exactly one sidecar, published ports only on the sidecar (container port 8080),
 * valid slirp4netns options.
 */
import { DnsLabel } from "@beemesh/contract"
import { SlirpOptions, validateSlirpOptions } from "@beemesh/netns"
import { Effect, Result, Schema } from "effect"
import { PodSpecInvalid } from "./Errors.js"

/** The sidecar's container port: the one published port of a pod. */
export const SIDECAR_PORT = 8080

export const ContainerRole = Schema.Literals(["sidecar", "app"])
export type ContainerRole = typeof ContainerRole.Type

export const MountSpec = Schema.Struct({
  source: Schema.String,
  destination: Schema.String,
  readOnly: Schema.optionalKey(Schema.Boolean),
})

export const HealthcheckSpec = Schema.Struct({
  /** Run directly (no shell), e.g. `["/bin/wget", "-q", "-O-", "http://127.0.0.1:8080/health"]`. */
  command: Schema.Array(Schema.String),
  intervalSeconds: Schema.optionalKey(Schema.Number),
  timeoutSeconds: Schema.optionalKey(Schema.Number),
  retries: Schema.optionalKey(Schema.Number),
})

export const ContainerSpec = Schema.Struct({
  /** DNS-1123 label; the Podman container is named `<pod>-<name>`. */
  name: Schema.String,
  role: ContainerRole,
  image: Schema.String,
  command: Schema.optionalKey(Schema.Array(Schema.String)),
  entrypoint: Schema.optionalKey(Schema.Array(Schema.String)),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  mounts: Schema.optionalKey(Schema.Array(MountSpec)),
  /** `uid`, `uid:gid` or a name known to the image. */
  user: Schema.optionalKey(Schema.String),
  workdir: Schema.optionalKey(Schema.String),
  resources: Schema.optionalKey(
    Schema.Struct({
      memoryBytes: Schema.optionalKey(Schema.Number),
      cpus: Schema.optionalKey(Schema.Number),
      pids: Schema.optionalKey(Schema.Number),
    }),
  ),
  /**
   * Container ports to publish. Only the sidecar may have any, and only 8080 (which it gets
   * anyway); declaring ports on an app container is refused.
   */
  ports: Schema.optionalKey(Schema.Array(Schema.Number)),
  healthcheck: Schema.optionalKey(HealthcheckSpec),
})
export type ContainerSpec = typeof ContainerSpec.Type

export const PodSpec = Schema.Struct({
  /** DNS-1123 label, unique on the host. */
  name: Schema.String,
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** slirp4netns options; missing keys (or the whole field) take the defaults. */
  network: SlirpOptions.pipe(Schema.withDecodingDefaultKey(Effect.succeed({}))),
  /** Host port for the sidecar's 8080; absent: a free port is allocated. */
  hostPort: Schema.optionalKey(Schema.Number),
  /** Host address the port is published on (default 127.0.0.1). */
  hostIp: Schema.optionalKey(Schema.String),
  containers: Schema.Array(ContainerSpec),
  /** OCI runtime for every container (default runc; crun fails on cgroup v1 hosts). */
  ociRuntime: Schema.optionalKey(Schema.String),
  /** Seconds between SIGTERM and SIGKILL when the pod stops (default 2). */
  stopTimeoutSeconds: Schema.optionalKey(Schema.Number),
  /** rlimits for every container; default: this process's hard limits (nproc capped at pid_max). */
  rlimits: Schema.optionalKey(Schema.Struct({ nofile: Schema.Number, nproc: Schema.Number })),
})
export type PodSpec = typeof PodSpec.Type
export type PodSpecInput = typeof PodSpec.Encoded

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535

const check = (spec: PodSpec): Result.Result<PodSpec, PodSpecInvalid> => {
  const bad = (field: string, reason: string) => Result.fail(new PodSpecInvalid({ field, reason }))
  const podProblem = DnsLabel.problem(spec.name)
  if (podProblem) return bad("name", `pod name "${spec.name}" is ${podProblem}`)
  const seen = new Set<string>()
  for (const [i, c] of spec.containers.entries()) {
    const problem = DnsLabel.problem(c.name)
    if (problem) return bad(`containers[${i}].name`, `container name "${c.name}" is ${problem}`)
    if (seen.has(c.name))
      return bad(`containers[${i}].name`, `container name "${c.name}" is used twice`)
    seen.add(c.name)
    if (c.image.trim() === "") return bad(`containers[${i}].image`, "empty image reference")
    const ports = c.ports ?? []
    if (c.role === "app" && ports.length > 0) {
      return bad(
        `containers[${i}].ports`,
        `app container "${c.name}" declares published ports (${ports.join(", ")}); app containers get none, only the sidecar's port ${SIDECAR_PORT} is published`,
      )
    }
    if (c.role === "sidecar" && ports.some((p) => p !== SIDECAR_PORT)) {
      return bad(
        `containers[${i}].ports`,
        `the sidecar publishes container port ${SIDECAR_PORT} only (got ${ports.join(", ")})`,
      )
    }
  }
  const sidecars = spec.containers.filter((c) => c.role === "sidecar")
  if (sidecars.length !== 1) {
    return bad("containers", `a pod needs exactly one sidecar container; found ${sidecars.length}`)
  }
  if (!spec.containers.some((c) => c.role === "app")) {
    return bad("containers", "a pod needs at least one app container")
  }
  if (spec.hostPort !== undefined && !isPort(spec.hostPort)) {
    return bad("hostPort", `${spec.hostPort} is not a TCP port (1-65535)`)
  }
  if (spec.stopTimeoutSeconds !== undefined && !(spec.stopTimeoutSeconds >= 0)) {
    return bad("stopTimeoutSeconds", "must be 0 or more")
  }
  return Result.succeed(spec)
}

/** Decodes and checks a pod spec; nothing touches Podman. */
export const decodePodSpec = (
  input: PodSpecInput | unknown,
): Effect.Effect<PodSpec, PodSpecInvalid> =>
  Effect.gen(function* () {
    const decoded = Schema.decodeUnknownResult(PodSpec)(input)
    if (Result.isFailure(decoded)) {
      return yield* Effect.fail(
        new PodSpecInvalid({ field: "(spec)", reason: decoded.failure.message }),
      )
    }
    const spec = yield* Effect.fromResult(check(decoded.success))
    yield* validateSlirpOptions(spec.network).pipe(
      Effect.mapError(
        (e) => new PodSpecInvalid({ field: `network.${e.option}`, reason: e.message }),
      ),
    )
    return spec
  })
