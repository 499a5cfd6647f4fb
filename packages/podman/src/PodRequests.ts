/**
 * What Podman is asked for to build an isolated pod (pure, exported for tests), and the host port
 * its sidecar is published on.
 */
import { createServer } from "node:net"
import { gatewayAddress, renderPodmanNetworkOptions } from "@beemesh/netns"
import { Effect } from "effect"
import { containerLimits } from "./internal/limits.js"
import { LABEL_ROLE } from "./Ownership.js"
import { type ContainerSpec, type PodSpec, SIDECAR_PORT } from "./PodSpec.js"
import type { ContainerCreateRequest, PodCreateRequest } from "./Requests.js"

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
