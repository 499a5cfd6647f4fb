import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  appIdMap,
  containerCreateRequest,
  holderCreateRequest,
  podCreateRequest,
} from "./PodRequests.js"
import { PodSpec, type PodSpecInput } from "./PodSpec.js"

const input: PodSpecInput = {
  name: "web-1",
  containers: [
    {
      name: "sidecar",
      role: "sidecar",
      image: "localhost/sidecar:1",
      user: "1337",
      healthcheck: { command: ["/bin/true"], intervalSeconds: 10 },
    },
    {
      name: "app",
      role: "app",
      image: "localhost/app:1",
      command: ["/bin/app"],
      env: { A: "1" },
      mounts: [{ source: "/srv/data", destination: "/data", readOnly: true }],
      resources: { memoryBytes: 64 * 1024 * 1024, cpus: 0.5, pids: 100 },
    },
  ],
  rlimits: { nofile: 4096, nproc: 512 },
}
const spec = Schema.decodeUnknownSync(PodSpec)(input)

describe("Podman requests of an isolated pod", () => {
  it("puts the pod on slirp4netns with the default options, the host-loopback gateway and one port", () => {
    const req = holderCreateRequest(spec, "127.0.0.1", 18080, { l: "1" }, "localhost/holder:1")
    expect(req.netns).toEqual({ nsmode: "slirp4netns" })
    expect(req.network_options).toEqual({
      slirp4netns: ["enable_ipv6=true", "allow_host_loopback=true", "cidr=10.0.2.0/24", "mtu=1500"],
    })
    expect(req.hostadd).toEqual(["host.containers.internal:10.0.2.2"])
    expect(req.portmappings).toEqual([
      { host_ip: "127.0.0.1", host_port: 18080, container_port: 8080, protocol: "tcp" },
    ])
    expect(req.name).toBe("web-1-holder")
    expect(req.hostname).toBe("web-1")
    expect(req.sysctl).toEqual({ "net.ipv4.ip_unprivileged_port_start": "0" })
    expect(req.labels).toEqual({ l: "1", "io.beemesh.role": "holder" })
    // The holder owns the network namespace; the pod itself has no infra container to share one.
    expect(podCreateRequest(spec, { l: "1" })).toEqual({
      name: "web-1",
      labels: { l: "1" },
      no_infra: true,
    })
  })

  it("derives host.containers.internal from the configured CIDR", () => {
    const custom = Schema.decodeUnknownSync(PodSpec)({ ...input, network: { cidr: "10.9.8.0/24" } })
    expect(holderCreateRequest(custom, "127.0.0.1", 1, {}, "h").hostadd).toEqual([
      "host.containers.internal:10.9.8.2",
    ])
  })

  it("adds the spec's host entries after host.containers.internal", () => {
    const named = Schema.decodeUnknownSync(PodSpec)({
      ...input,
      hosts: [{ name: "orders", address: "127.0.0.2" }],
    })
    expect(holderCreateRequest(named, "127.0.0.1", 1, {}, "h").hostadd).toEqual([
      "host.containers.internal:10.0.2.2",
      "orders:127.0.0.2",
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
    const sidecar = containerCreateRequest(spec, spec.containers[0]!, {})
    expect(sidecar.healthconfig).toMatchObject({ Test: ["CMD", "/bin/true"], Interval: 10e9 })
    expect(sidecar.user).toBe("1337")
    expect(sidecar.labels).toEqual({ "io.beemesh.role": "sidecar" })
  })

  it("gives a container with a stop timeout of its own that timeout and the label stopPods reads", () => {
    const own = { ...spec.containers[0]!, stopTimeoutSeconds: 3 }
    const sidecar = containerCreateRequest({ ...spec, stopTimeoutSeconds: 30 }, own, { l: "1" })
    expect(sidecar.stop_timeout).toBe(3)
    expect(sidecar.labels).toEqual({
      l: "1",
      "io.beemesh.role": "sidecar",
      "io.beemesh.stop-timeout": "3",
    })
    const app = containerCreateRequest({ ...spec, stopTimeoutSeconds: 30 }, spec.containers[1]!, {})
    expect(app.stop_timeout).toBe(30)
    expect(app.labels).toEqual({ "io.beemesh.role": "app" })
  })

  it("joins sidecar and apps to the holder's network; apps get their own user namespace, the sidecar not", () => {
    const holder = { nsmode: "container", value: "web-1-holder" }
    const sidecar = containerCreateRequest(spec, spec.containers[0]!, {})
    expect([sidecar.netns, sidecar.utsns]).toEqual([holder, holder])
    expect([sidecar.userns, sidecar.idmappings, sidecar.cap_drop]).toEqual([
      undefined,
      undefined,
      undefined,
    ])
    const app = containerCreateRequest(spec, spec.containers[1]!, {})
    expect([app.netns, app.utsns, app.userns]).toEqual([holder, holder, { nsmode: "private" }])
    expect(app.idmappings).toEqual({
      HostUIDMapping: false,
      HostGIDMapping: false,
      UIDMap: [{ container_id: 0, host_id: 200_000, size: 65_536 }],
      GIDMap: [{ container_id: 0, host_id: 200_000, size: 65_536 }],
    })
    expect(app.cap_drop).toEqual(["NET_RAW"])
    expect(app.hostname).toBeUndefined()
    // Named apart from the pod (a claimed standby pod): the apps' own UTS namespace, the sidecar's
    // still the holder's.
    const named = { ...spec, hostname: "web-7" }
    const namedApp = containerCreateRequest(named, named.containers[1]!, {})
    expect([namedApp.netns, namedApp.utsns, namedApp.hostname]).toEqual([
      holder,
      { nsmode: "private" },
      "web-7",
    ])
    expect(containerCreateRequest(named, named.containers[0]!, {}).utsns).toEqual(holder)
    expect([app.cap_add, app.no_new_privileges, app.read_only_filesystem]).toEqual([
      undefined,
      undefined,
      undefined,
    ])
  })

  it("maps no app ID onto 0 or the sidecar's 1337, rootful (any base) and rootless", () => {
    const covers = (map: ReturnType<typeof appIdMap>, id: number) =>
      map.some((m) => m.host_id <= id && id < m.host_id + m.size)
    const rootless = appIdMap(true)
    expect(rootless).toEqual([
      { container_id: 0, host_id: 1, size: 1336 },
      { container_id: 1336, host_id: 1338, size: 64_199 },
    ])
    expect([covers(rootless, 0), covers(rootless, 1337), covers(rootless, 1336)]).toEqual([
      false,
      false,
      true,
    ])
    // Container IDs are contiguous: 0..65534.
    expect(rootless[1]!.container_id).toBe(rootless[0]!.size)
    const rootful = appIdMap(false, 300_000)
    expect([covers(rootful, 1337), covers(rootful, 0), covers(rootful, 300_000)]).toEqual([
      false,
      false,
      true,
    ])
    const custom = Schema.decodeUnknownSync(PodSpec)({ ...input, appIdBase: 400_000 })
    expect(
      containerCreateRequest(custom, custom.containers[1]!, {}, false).idmappings?.UIDMap,
    ).toEqual([{ container_id: 0, host_id: 400_000, size: 65_536 }])
    expect(
      containerCreateRequest(custom, custom.containers[1]!, {}, true).idmappings?.UIDMap,
    ).toEqual(rootless)
  })

  it("turns an app's security settings into Podman's fields, NET_RAW always dropped", () => {
    const secured = Schema.decodeUnknownSync(PodSpec)({
      ...input,
      containers: [
        input.containers[0]!,
        {
          ...input.containers[1]!,
          user: "1000:1000",
          security: {
            readOnlyRootFilesystem: true,
            noNewPrivileges: true,
            capDrop: ["ALL", "cap_setuid"],
            capAdd: ["CAP_NET_BIND_SERVICE"],
          },
        },
      ],
    })
    const app = containerCreateRequest(secured, secured.containers[1]!, {})
    expect(app).toMatchObject({
      user: "1000:1000",
      read_only_filesystem: true,
      no_new_privileges: true,
      cap_drop: ["NET_RAW", "ALL", "SETUID"],
      cap_add: ["NET_BIND_SERVICE"],
    })
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
