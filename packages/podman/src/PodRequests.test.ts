import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { containerCreateRequest, podCreateRequest } from "./PodRequests.js"
import { PodSpec, type PodSpecInput } from "./PodSpec.js"

const input: PodSpecInput = {
  name: "web-1",
  containers: [
    { name: "sidecar", role: "sidecar", image: "localhost/sidecar:1", user: "1337" },
    {
      name: "app",
      role: "app",
      image: "localhost/app:1",
      command: ["/bin/app"],
      env: { A: "1" },
      mounts: [{ source: "/srv/data", destination: "/data", readOnly: true }],
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pids: 100 },
      healthcheck: { command: ["/bin/true"], intervalSeconds: 10 },
    },
  ],
  rlimits: { nofile: 4096, nproc: 512 },
}
const spec = Schema.decodeUnknownSync(PodSpec)(input)

describe("Podman requests of an isolated pod", () => {
  it("puts the pod on slirp4netns with the default options, the host-loopback gateway and one port", () => {
    const req = podCreateRequest(spec, "127.0.0.1", 18080, { l: "1" })
    expect(req.netns).toEqual({ nsmode: "slirp4netns" })
    expect(req.network_options).toEqual({
      slirp4netns: ["enable_ipv6=true", "allow_host_loopback=true", "cidr=10.0.2.0/24", "mtu=1500"],
    })
    expect(req.hostadd).toEqual(["host.containers.internal:10.0.2.2"])
    expect(req.portmappings).toEqual([
      { host_ip: "127.0.0.1", host_port: 18080, container_port: 8080, protocol: "tcp" },
    ])
    expect(req.share).toContain("net")
  })

  it("derives host.containers.internal from the configured CIDR", () => {
    const custom = Schema.decodeUnknownSync(PodSpec)({ ...input, network: { cidr: "10.9.8.0/24" } })
    expect(podCreateRequest(custom, "127.0.0.1", 1, {}).hostadd).toEqual([
      "host.containers.internal:10.9.8.2",
    ])
  })

  it("gives containers no ports, explicit rlimits, runc, a short stop timeout and their role", () => {
    const app = containerCreateRequest(spec, spec.containers[1]!, { l: "1" })
    expect(app.portmappings).toBeUndefined()
    expect(app.name).toBe("web-1-app")
    expect(app.pod).toBe("web-1")
    expect(app.r_limits).toEqual([
      { type: "nofile", hard: 4096, soft: 4096 },
      { type: "nproc", hard: 512, soft: 512 },
    ])
    expect(app.oci_runtime).toBe("runc")
    expect(app.stop_timeout).toBe(2)
    expect(app.labels).toEqual({ l: "1", "io.beemesh.role": "app" })
    expect(app.mounts).toEqual([
      { type: "bind", source: "/srv/data", destination: "/data", options: ["ro"] },
    ])
    expect(app.resource_limits).toEqual({
      memory: { limit: 64 * 1024 * 1024 },
      cpu: { quota: 50_000, period: 100_000 },
      pids: { limit: 100 },
    })
    expect(app.healthconfig).toMatchObject({ Test: ["CMD", "/bin/true"], Interval: 10e9 })
    const sidecar = containerCreateRequest(spec, spec.containers[0]!, {})
    expect(sidecar.user).toBe("1337")
    expect(sidecar.labels).toEqual({ "io.beemesh.role": "sidecar" })
  })

  it("defaults rlimits to no more than this process's hard limits", () => {
    const { rlimits: _, ...noLimits } = input
    const req = containerCreateRequest(
      Schema.decodeUnknownSync(PodSpec)(noLimits),
      spec.containers[0]!,
      {},
    )
    const nofile = req.r_limits?.find((l) => l.type === "nofile")
    expect(nofile?.hard).toBeGreaterThan(0)
    expect(nofile?.soft).toBe(nofile?.hard)
  })
})
