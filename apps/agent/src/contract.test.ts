import { SidecarEnvironment, SidecarIdentity, SidecarPorts } from "@beemesh/contract"
import { defaultSlirpOptions, SIDECAR_UID, sidecarOnly } from "@beemesh/netns"
import { SIDECAR_PORT } from "@beemesh/podman"
import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { replicaPodSpec } from "./deployer/PodTemplate"
import { defaultManifestOptions, type Workload } from "./Manifest"
import { verifyPodToken } from "./Tokens"

// The libraries keep their own notions of the published port and of the UID egress lets out;
// the agent joins them with the contract, so they must be the same values.
describe("the libraries agree with the agent↔sidecar contract", () => {
  it("Podman's one published container port is the sidecar's proxy port", () => {
    expect(SIDECAR_PORT).toBe(SidecarPorts.PROXY_PORT)
  })

  it("the UID the egress policy lets out is the sidecar's", () => {
    expect(SIDECAR_UID).toBe(SidecarIdentity.UID)
    expect(sidecarOnly([]).allowedUids).toEqual([SidecarIdentity.UID])
  })

  it("manifests keep apps off the sidecar's ports", () => {
    expect(defaultManifestOptions.reservedPorts).toEqual(SidecarPorts.RESERVED)
  })
})

describe("a replica's sidecar container", () => {
  const workload: Workload = {
    kind: "StatefulSet",
    namespace: "shop",
    name: "db",
    replicas: 1,
    labels: {},
    containers: [
      {
        name: "app",
        image: "localhost/db:1",
        command: undefined,
        args: undefined,
        workingDir: undefined,
        env: [],
        ports: [5432, 9090],
        memoryLimitBytes: undefined,
        cpuLimitMillis: undefined,
      },
    ],
    services: [
      { name: "db", port: 5432 },
      { name: "db-admin", port: 9090 },
    ],
    upstreams: [{ service: "orders", port: 9001 }],
  }
  const spec = replicaPodSpec(workload, { name: "db-0", generation: "g-db-0" }, 41000, {
    sidecarImage: "localhost/beemesh/sidecar:0.1.0",
    slirp: defaultSlirpOptions,
    advertiseHost: "192.0.2.7",
    apiPort: 18080,
    podTokenKey: "k".repeat(43),
  })
  const sidecar = spec.containers?.[0]

  it("runs as the sidecar's identity", () => {
    expect(sidecar?.user).toBe(String(SidecarIdentity.UID))
  })

  it("gets an environment the sidecar decodes into exactly this replica's settings", () => {
    const decoded = SidecarEnvironment.decode(sidecar?.env ?? {})
    if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
    const { podToken, ...settings } = decoded.success
    expect(settings).toEqual({
      namespace: "shop",
      workload: "db",
      pod: "db-0",
      services: workload.services,
      upstreams: workload.upstreams,
      // The slirp gateway address, not a name an app could influence through /etc/hosts.
      agentUrl: "http://10.0.2.2:18080",
      advertise: ["/ip4/192.0.2.7/tcp/41000"],
      listenPort: SidecarPorts.PROXY_PORT,
      healthHost: "127.0.0.1",
      healthPort: SidecarPorts.HEALTH_PORT,
      identityKeyFile: undefined,
    })
    expect(verifyPodToken("k".repeat(43), Redacted.value(podToken))).toEqual({
      namespace: "shop",
      workload: "db",
      pod: "db-0",
    })
  })
})
