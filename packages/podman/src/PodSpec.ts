/**
 * The typed description of an isolated pod and the rules it must meet before anything is created:
 * DNS-1123 names, exactly one sidecar, published ports only on the sidecar (container port 8080),
 * valid slirp4netns options, app security settings that cannot widen what an app may do.
 */
import { DnsLabel } from "@beemesh/contract"
import { SIDECAR_UID, SlirpOptions, validateSlirpOptions } from "@beemesh/netns"
import { Effect, Result, Schema } from "effect"
import { PodSpecInvalid } from "./Errors.js"

/** The sidecar's container port: the one published port of a pod. */
export const SIDECAR_PORT = 8080

/** The one capability an app may be given beyond Podman's defaults (binding ports below 1024). */
export const ADDABLE_CAPABILITY = "NET_BIND_SERVICE"

/**
 * The container that holds the pod's network namespace is named `<pod>-holder`: no container of
 * the spec may take that name.
 */
export const HOLDER_NAME = "holder"

/** App UID/GID 0 maps to this host ID on rootful Podman, for 65536 IDs (see `appIdBase`). */
export const DEFAULT_APP_ID_BASE = 200_000
export const APP_ID_COUNT = 65_536

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

/** What an app container may not do beyond its own user namespace. Absent fields: Podman's defaults. */
export const ContainerSecurity = Schema.Struct({
  /** The root filesystem is mounted read-only. */
  readOnlyRootFilesystem: Schema.optionalKey(Schema.Boolean),
  /** No process gains privileges through setuid binaries or file capabilities. */
  noNewPrivileges: Schema.optionalKey(Schema.Boolean),
  /** Capabilities dropped (`ALL` or names such as `SETUID`; `CAP_` prefix optional). */
  capDrop: Schema.optionalKey(Schema.Array(Schema.String)),
  /** Capabilities added: only NET_BIND_SERVICE is accepted. */
  capAdd: Schema.optionalKey(Schema.Array(Schema.String)),
  /**
   * Refuse to start the container when it would run as root: its `user`, else its image's USER,
   * must be a numeric non-zero UID (a name cannot be checked without the image's /etc/passwd).
   */
  runAsNonRoot: Schema.optionalKey(Schema.Boolean),
})
export type ContainerSecurity = typeof ContainerSecurity.Type

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
  /**
   * Podman's exec-based healthcheck. Sidecar only: an app runs in a user namespace of its own, which
   * runc 1.1 cannot exec into (it joins that namespace before the pod's network namespace).
   */
  healthcheck: Schema.optionalKey(HealthcheckSpec),
  security: Schema.optionalKey(ContainerSecurity),
  /**
   * Seconds between SIGTERM and SIGKILL for this container, where it is not the pod's
   * `stopTimeoutSeconds`: a process that promises to exit sooner (the sidecar) is not waited for
   * past that, even when its SIGTERM was lost.
   */
  stopTimeoutSeconds: Schema.optionalKey(Schema.Number),
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
  /**
   * Extra /etc/hosts entries of the pod (the holder owns the file; apps cannot write it), for
   * example the names an app reaches its upstreams at. IPv4 addresses only.
   */
  hosts: Schema.optionalKey(
    Schema.Array(Schema.Struct({ name: Schema.String, address: Schema.String })),
  ),
  /** OCI runtime for every container (default runc; crun fails on cgroup v1 hosts). */
  ociRuntime: Schema.optionalKey(Schema.String),
  /** Seconds between SIGTERM and SIGKILL when the pod stops (default 2). */
  stopTimeoutSeconds: Schema.optionalKey(Schema.Number),
  /** rlimits for every container; default: this process's hard limits (nproc capped at pid_max). */
  rlimits: Schema.optionalKey(Schema.Struct({ nofile: Schema.Number, nproc: Schema.Number })),
  /**
   * Rootful Podman: the host ID that app UID and GID 0 map to; apps get 65536 IDs from there
   * (default 200000). The range must leave out 0 and the sidecar's UID. Rootless Podman ignores it:
   * apps get the user's subordinate IDs except the two the sidecar's namespace maps to 0 and 1337.
   */
  appIdBase: Schema.optionalKey(Schema.Number),
  /**
   * The apps' hostname, each app then in a UTS namespace of its own. Absent: the apps share the
   * holder's, whose hostname is the pod's name. For apps added to a standby pod (whose name was
   * chosen before its replica was known): `claimStandbyPod`.
   */
  hostname: Schema.optionalKey(Schema.String),
})
export type PodSpec = typeof PodSpec.Type
export type PodSpecInput = typeof PodSpec.Encoded

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535

const CAPABILITY = /^(CAP_)?[A-Z][A-Z_]*$/
/** `CAP_NET_RAW` → `NET_RAW`; `ALL` stays. */
export const capabilityName = (name: string) => name.toUpperCase().replace(/^CAP_/, "")

/** The name Podman itself points at the slirp4netns gateway (see PodRequests). */
export const HOST_GATEWAY_NAME = "host.containers.internal"

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/

/** Why a pod's extra host entries are refused: [field, reason], or undefined. */
const hostsProblem = (
  hosts: ReadonlyArray<{ readonly name: string; readonly address: string }>,
): readonly [string, string] | undefined => {
  const seen = new Set<string>()
  for (const [i, { name, address }] of hosts.entries()) {
    if (!HOSTNAME.test(name)) {
      return [`hosts[${i}].name`, `"${name}" is not a lower-case DNS name such as orders.shop.svc`]
    }
    if (name === "localhost" || name === HOST_GATEWAY_NAME) {
      return [`hosts[${i}].name`, `"${name}" is set by Podman and may not be pointed elsewhere`]
    }
    if (seen.has(name)) return [`hosts[${i}].name`, `"${name}" appears twice`]
    seen.add(name)
    if (!IPV4.test(address)) {
      return [`hosts[${i}].address`, `"${address}" is not an IPv4 address such as 127.0.0.2`]
    }
  }
  return undefined
}

/** Why an app's security settings are refused, or undefined. */
const securityProblem = (security: ContainerSecurity): readonly [string, string] | undefined => {
  for (const name of [...(security.capDrop ?? []), ...(security.capAdd ?? [])]) {
    if (!CAPABILITY.test(name.toUpperCase())) {
      return ["", `"${name}" is not a capability name such as NET_BIND_SERVICE or ALL`]
    }
  }
  const added = (security.capAdd ?? []).map(capabilityName).filter((c) => c !== ADDABLE_CAPABILITY)
  if (added.length > 0) {
    return [
      "capAdd",
      `adding ${added.join(", ")} is refused: an app may be given ${ADDABLE_CAPABILITY} only`,
    ]
  }
  return undefined
}

const check = (spec: PodSpec, standby: boolean): Result.Result<PodSpec, PodSpecInvalid> => {
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
    if (c.name === HOLDER_NAME) {
      return bad(
        `containers[${i}].name`,
        `container name "${HOLDER_NAME}" is reserved for the container that holds the pod's network namespace`,
      )
    }
    if (c.role === "app" && c.healthcheck !== undefined) {
      return bad(
        `containers[${i}].healthcheck`,
        `app container "${c.name}" has a healthcheck: Podman runs it with exec, which cannot enter an app's own user namespace (runc 1.1); check the app from the sidecar instead`,
      )
    }
    const security = c.security === undefined ? undefined : securityProblem(c.security)
    if (security !== undefined) {
      const [field, reason] = security
      return bad(`containers[${i}].security${field === "" ? "" : `.${field}`}`, reason)
    }
    if (c.stopTimeoutSeconds !== undefined && !(c.stopTimeoutSeconds >= 0)) {
      return bad(`containers[${i}].stopTimeoutSeconds`, "must be 0 or more")
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
  const hasApps = spec.containers.some((c) => c.role === "app")
  if (standby && hasApps) {
    return bad("containers", "a standby pod has its sidecar only; apps come with its claim")
  }
  if (!standby && !hasApps) {
    return bad("containers", "a pod needs at least one app container")
  }
  if (spec.hostname !== undefined && DnsLabel.problem(spec.hostname) !== undefined) {
    return bad("hostname", `hostname "${spec.hostname}" is ${DnsLabel.problem(spec.hostname)}`)
  }
  if (spec.hostPort !== undefined && !isPort(spec.hostPort)) {
    return bad("hostPort", `${spec.hostPort} is not a TCP port (1-65535)`)
  }
  const hostProblem = hostsProblem(spec.hosts ?? [])
  if (hostProblem !== undefined) return bad(hostProblem[0], hostProblem[1])
  if (spec.appIdBase !== undefined) {
    const base = spec.appIdBase
    const last = base + APP_ID_COUNT - 1
    if (!Number.isInteger(base) || base < 1 || last > 4294967294) {
      return bad("appIdBase", `${base} is not a host ID from which ${APP_ID_COUNT} IDs fit`)
    }
    if (base <= SIDECAR_UID && SIDECAR_UID <= last) {
      return bad(
        "appIdBase",
        `host IDs ${base}-${last} include the sidecar's UID ${SIDECAR_UID}: an app could act as the sidecar; choose a base above ${SIDECAR_UID}`,
      )
    }
  }
  if (spec.stopTimeoutSeconds !== undefined && !(spec.stopTimeoutSeconds >= 0)) {
    return bad("stopTimeoutSeconds", "must be 0 or more")
  }
  return Result.succeed(spec)
}

/**
 * Why a container whose user is `user` (`uid[:gid]` or a name; empty: root) may not be taken to run
 * as non-root, or undefined when it runs as a non-zero numeric UID.
 */
export const rootUserProblem = (user: string): string | undefined => {
  const uid = user.split(":")[0] ?? ""
  if (uid === "" || uid === "0" || uid === "root") return "it runs as root"
  if (!/^\d+$/.test(uid)) {
    return `its user "${uid}" is a name, which cannot be verified to be non-root without reading the image's /etc/passwd`
  }
  return undefined
}

/** Decodes and checks a pod spec; nothing touches Podman. */
export const decodePodSpec = (
  input: PodSpecInput | unknown,
  /** A standby pod's spec: the sidecar only (see `createStandbyPod`). */
  options: { readonly standby?: boolean } = {},
): Effect.Effect<PodSpec, PodSpecInvalid> =>
  Effect.gen(function* () {
    const decoded = Schema.decodeUnknownResult(PodSpec)(input)
    if (Result.isFailure(decoded)) {
      return yield* Effect.fail(
        new PodSpecInvalid({ field: "(spec)", reason: decoded.failure.message }),
      )
    }
    const spec = yield* Effect.fromResult(check(decoded.success, options.standby ?? false))
    yield* validateSlirpOptions(spec.network).pipe(
      Effect.mapError(
        (e) => new PodSpecInvalid({ field: `network.${e.option}`, reason: e.message }),
      ),
    )
    return spec
  })
