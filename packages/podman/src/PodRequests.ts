/**
 * What Podman is asked for to build an isolated pod (pure, exported for tests), and the host port
 * its sidecar is published on.
 *
 * The shape: a pod without an infra container; a holder container that owns the network namespace
 * (slirp4netns, the published port, the host entry); the sidecar joining that namespace in the
 * namespace's own user namespace (uid 1337); each app joining it from a user namespace of its own,
 * whose ID map leaves out the sidecar's UID. Podman 4.3 refuses per-container ID maps in a pod with
 * an infra container (and silently ignores `userns: auto` there), hence no infra.
 */
import { createServer } from "node:net"
import {
  gatewayAddress,
  renderPodmanNetworkOptions,
  SIDECAR_UID,
  UNPRIVILEGED_PORT_SYSCTL,
} from "@beemesh/netns"
import { Effect } from "effect"
import { containerLimits } from "./internal/limits.js"
import { LABEL_ROLE, LABEL_STOP_TIMEOUT } from "./Ownership.js"
import {
  APP_ID_COUNT,
  type ContainerSpec,
  capabilityName,
  DEFAULT_APP_ID_BASE,
  HOLDER_NAME,
  HOST_GATEWAY_NAME,
  type PodSpec,
  SIDECAR_PORT,
} from "./PodSpec.js"
import type { ContainerCreateRequest, IdMap, IdMappings, PodCreateRequest } from "./Requests.js"

export const containerName = (pod: string, container: string) => `${pod}-${container}`

/** The Podman name of the container holding a pod's network namespace. */
export const holderName = (pod: string) => containerName(pod, HOLDER_NAME)

/** Taken from every app: raw and packet sockets would bypass the port-level view of the rules. */
const ALWAYS_DROPPED = ["NET_RAW"]

/**
 * The ID map of an app's user namespace, in the IDs of the namespace that owns the pod's network.
 * Rootful: 65536 IDs from `base` (the spec ensures the sidecar's UID is not among them). Rootless:
 * Podman's user namespace maps 0 to the user and 1.. to the subordinate IDs; apps get all of those
 * except 0 and the sidecar's 1337, so no app ID is either (65535 IDs from a 65536 range).
 */
export const appIdMap = (rootless: boolean, base = DEFAULT_APP_ID_BASE): ReadonlyArray<IdMap> =>
  rootless
    ? [
        { container_id: 0, host_id: 1, size: SIDECAR_UID - 1 },
        {
          container_id: SIDECAR_UID - 1,
          host_id: SIDECAR_UID + 1,
          size: APP_ID_COUNT - SIDECAR_UID,
        },
      ]
    : [{ container_id: 0, host_id: base, size: APP_ID_COUNT }]

export const appIdMappings = (rootless: boolean, base?: number): IdMappings => {
  const map = appIdMap(rootless, base)
  return { HostUIDMapping: false, HostGIDMapping: false, UIDMap: map, GIDMap: map }
}

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

/** The Podman pod-create request: a pod without infra, only grouping its containers. */
export const podCreateRequest = (
  spec: PodSpec,
  labels: Readonly<Record<string, string>>,
): PodCreateRequest => ({ name: spec.name, labels, no_infra: true })

const limitsOf = (spec: PodSpec) => {
  const limits = spec.rlimits ?? containerLimits()
  return [
    { type: "nofile" as const, hard: limits.nofile, soft: limits.nofile },
    { type: "nproc" as const, hard: limits.nproc, soft: limits.nproc },
  ]
}

/** The holder: owns the pod's network namespace on slirp4netns and the sidecar's published port. */
export const holderCreateRequest = (
  spec: PodSpec,
  hostIp: string,
  hostPort: number,
  labels: Readonly<Record<string, string>>,
  image: string,
): ContainerCreateRequest => ({
  name: holderName(spec.name),
  image,
  pod: spec.name,
  labels: { ...labels, [LABEL_ROLE]: HOLDER_NAME },
  // Podman's defaults (nofile 1048576) exceed the hard limits of these hosts: runc's setrlimit fails.
  r_limits: limitsOf(spec),
  oci_runtime: spec.ociRuntime ?? "runc",
  stop_timeout: spec.stopTimeoutSeconds ?? 2,
  // Sidecar and apps join its UTS namespace: the pod's hostname is the pod's name, as with infra.
  hostname: spec.name,
  // Root of an app's own user namespace has no say over this namespace: without this, binding
  // below 1024 (nginx-style images) fails. Enforced pods also set and verify it with their rules.
  sysctl: { [UNPRIVILEGED_PORT_SYSCTL]: "0" },
  netns: { nsmode: "slirp4netns" },
  network_options: { slirp4netns: renderPodmanNetworkOptions(spec.network) },
  // Podman 4.3 otherwise points this name at the host's primary address, which a loopback-bound
  // agent does not answer; slirp4netns maps the CIDR's .2 to the host's loopback.
  hostadd: [
    `${HOST_GATEWAY_NAME}:${gatewayAddress(spec.network)}`,
    ...(spec.hosts ?? []).map((host) => `${host.name}:${host.address}`),
  ],
  portmappings: [
    { host_ip: hostIp, host_port: hostPort, container_port: SIDECAR_PORT, protocol: "tcp" },
  ],
})

const seconds = (s: number) => Math.round(s * 1e9)

/** What keeps an app apart: its own user namespace and ID map, NET_RAW gone, its security settings. */
const appIsolation = (spec: PodSpec, c: ContainerSpec, rootless: boolean) => {
  const security = c.security ?? {}
  const added = (security.capAdd ?? []).map(capabilityName)
  return {
    userns: { nsmode: "private" },
    idmappings: appIdMappings(rootless, spec.appIdBase),
    cap_drop: [...new Set([...ALWAYS_DROPPED, ...(security.capDrop ?? []).map(capabilityName)])],
    ...(added.length > 0 ? { cap_add: [...new Set(added)] } : {}),
    ...(security.noNewPrivileges === true ? { no_new_privileges: true } : {}),
    ...(security.readOnlyRootFilesystem === true ? { read_only_filesystem: true } : {}),
  } satisfies Partial<ContainerCreateRequest>
}

/**
 * The Podman container-create request for one container of the spec (pure; exported for tests).
 * `rootless`: Podman runs rootless, which decides the apps' ID map.
 */
export const containerCreateRequest = (
  spec: PodSpec,
  c: ContainerSpec,
  labels: Readonly<Record<string, string>>,
  rootless = false,
): ContainerCreateRequest => {
  const r = c.resources
  const holder = { nsmode: "container", value: holderName(spec.name) }
  return {
    name: containerName(spec.name, c.name),
    image: c.image,
    pod: spec.name,
    labels: {
      ...labels,
      [LABEL_ROLE]: c.role,
      // Read by stopPods: this member's own grace period, not the pod's.
      ...(c.stopTimeoutSeconds === undefined
        ? {}
        : { [LABEL_STOP_TIMEOUT]: String(c.stopTimeoutSeconds) }),
    },
    netns: holder,
    // Apps named apart from the pod (a claimed standby pod) get a UTS namespace of their own.
    ...(c.role === "app" && spec.hostname !== undefined
      ? { utsns: { nsmode: "private" }, hostname: spec.hostname }
      : { utsns: holder }),
    ...(c.role === "app" ? appIsolation(spec, c, rootless) : {}),
    r_limits: limitsOf(spec),
    oci_runtime: spec.ociRuntime ?? "runc",
    stop_timeout: c.stopTimeoutSeconds ?? spec.stopTimeoutSeconds ?? 2,
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
