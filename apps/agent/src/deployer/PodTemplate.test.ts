import { createHash } from "node:crypto"
import { defaultSlirpOptions } from "@beemesh/netns"
import { generateMeshKey, MeshKey } from "@beemesh/p2p"
import { decodePodSpec } from "@beemesh/podman"
import { Array as Arr, Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { Workload } from "../Manifest"
import { verifyPodCredential, verifyPodToken } from "../Tokens"
import { LABEL_GENERATION, podNameOf, podNameOrder, replicaPodSpec, specHash } from "./PodTemplate"

/** One creation of replica web-1. */
const web1 = { name: "web-1", generation: "g-web-1" }

const workload: Workload = {
  kind: "Deployment",
  namespace: "shop",
  name: "web",
  replicas: 2,
  labels: {},
  containers: [
    {
      name: "app",
      image: "localhost/web:1",
      command: ["/bin/busybox"],
      args: ["httpd", "-f"],
      workingDir: undefined,
      env: [{ name: "A", value: "1" }],
      ports: [80],
      memoryLimitBytes: 64 * 2 ** 20,
      cpuLimitMillis: 500,
    },
  ],
  services: [{ name: "web", port: 80 }],
  upstreams: [{ service: "orders", port: 9001 }],
}

const options = {
  owner: "12D3KooWowner",
  sidecarImage: "localhost/beemesh/sidecar:0.1.0",
  slirp: defaultSlirpOptions,
  advertiseHost: "127.0.0.1",
  apiPort: 8080,
  podTokenKey: "k".repeat(43),
  stateFile: "/unused",
  rootless: false,
}

/** The spec hash as agents computed it before upstreams had names. */
const hashOfOlderAgent = (w: Workload) =>
  createHash("sha256")
    .update(
      JSON.stringify([
        { ...w, replicas: undefined, update: undefined },
        options.sidecarImage,
        options.slirp,
      ]),
    )
    .digest("hex")
    .slice(0, 16)

describe("replicaPodSpec", () => {
  const spec = replicaPodSpec(workload, web1, 41000, options)

  it("stops its apps with the pod's grace period, Kubernetes' 30 s when it has none, and its sidecar within 3 s", () => {
    expect(spec.stopTimeoutSeconds).toBe(30)
    const graced = { ...workload, terminationGracePeriodSeconds: 7 }
    expect(replicaPodSpec(graced, web1, 41000, options).stopTimeoutSeconds).toBe(7)
    // The sidecar exits within 2 s of SIGTERM; one it lost (node starting) is killed at 3 s.
    for (const c of spec.containers)
      expect([c.role, c.stopTimeoutSeconds]).toEqual(
        c.role === "sidecar" ? ["sidecar", 3] : [c.role, undefined],
      )
  })

  it("is a valid isolated pod: one sidecar published on the given port, apps without ports", async () => {
    const decoded = await Effect.runPromise(decodePodSpec(spec))
    expect(decoded.name).toBe("bm-shop-web-1")
    expect(decoded.hostPort).toBe(41000)
    expect(decoded.network).toEqual(defaultSlirpOptions)
    const [sidecar, app] = decoded.containers
    expect(sidecar).toMatchObject({ role: "sidecar", user: "1337", ports: [8080] })
    expect(app).toMatchObject({
      role: "app",
      entrypoint: ["/bin/busybox"],
      command: ["httpd", "-f"],
      env: { A: "1" },
      resources: { memoryBytes: 64 * 2 ** 20, cpus: 0.5 },
    })
    expect(app?.ports).toBeUndefined()
  })

  it("configures the sidecar for this replica with a pod token only it can use", () => {
    const env = spec.containers?.[0]?.env ?? {}
    expect(env).toMatchObject({
      BEEMESH_NAMESPACE: "shop",
      BEEMESH_WORKLOAD: "web",
      BEEMESH_POD: "web-1",
      BEEMESH_SERVICES: "web=80",
      BEEMESH_UPSTREAMS: "orders=9001",
      // The slirp4netns gateway, so that the sidecar depends on no /etc/hosts entry.
      BEEMESH_AGENT_URL: "http://10.0.2.2:8080",
      BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/41000",
    })
    expect(verifyPodToken(options.podTokenKey, env.BEEMESH_POD_TOKEN ?? "")).toEqual({
      namespace: "shop",
      workload: "web",
      pod: "web-1",
    })
  })

  it("binds the pod token to the pod's generation, which its labels carry for a restarted agent", () => {
    const env = spec.containers?.[0]?.env ?? {}
    expect(spec.labels?.[LABEL_GENERATION]).toBe("g-web-1")
    expect(verifyPodCredential(options.podTokenKey, env.BEEMESH_POD_TOKEN ?? "")?.generation).toBe(
      "g-web-1",
    )
    const recreated = replicaPodSpec(workload, { ...web1, generation: "g-web-1b" }, 41000, options)
    expect(recreated.containers?.[0]?.env?.BEEMESH_POD_TOKEN).not.toBe(env.BEEMESH_POD_TOKEN)
    // The spec hash is the workload's, not the creation's: a recreated pod is not an update.
    expect(recreated.labels?.["io.beemesh.spec"]).toBe(spec.labels?.["io.beemesh.spec"])
  })

  it("gives the ports of a multi-port Service one name and address, and each port to the sidecar", () => {
    const client = {
      ...workload,
      upstreams: [
        { service: "web", port: 9080, servicePort: "http" },
        { service: "orders", port: 9001 },
        { service: "web", port: 9090, servicePort: "metrics" },
      ],
    }
    const pod = replicaPodSpec(client, web1, 41000, options)
    expect(pod.containers?.[0]?.env?.BEEMESH_UPSTREAMS).toBe(
      "web:http=9080,orders=9001,web:metrics=9090",
    )
    expect(pod.hosts?.filter((entry) => !entry.name.includes("."))).toEqual([
      { name: "web", address: "127.0.0.2" },
      { name: "orders", address: "127.0.0.3" },
    ])
  })

  it("names the upstreams in the pod's /etc/hosts at the address its sidecar serves them on", () => {
    expect(spec.hosts).toEqual([
      { name: "orders", address: "127.0.0.2" },
      { name: "orders.shop", address: "127.0.0.2" },
      { name: "orders.shop.svc", address: "127.0.0.2" },
      { name: "orders.shop.svc.cluster.local", address: "127.0.0.2" },
    ])
    expect(replicaPodSpec({ ...workload, upstreams: [] }, web1, 41000, options).hosts).toBe(
      undefined,
    )
    // Pods of an older agent lack the names: a workload with upstreams gets new pods, others not.
    expect(specHash(workload, options)).not.toBe(hashOfOlderAgent(workload))
    const alone = { ...workload, upstreams: [] }
    expect(specHash(alone, options)).toBe(hashOfOlderAgent(alone))
  })

  it("labels the pod with its replica and a spec hash that changes with the pods, not the count", () => {
    expect(spec.labels).toMatchObject({
      "io.beemesh.namespace": "shop",
      "io.beemesh.workload": "web",
      "io.beemesh.replica": "web-1",
      "io.beemesh.spec": specHash(workload, options),
    })
    expect(specHash({ ...workload, replicas: 3 }, options)).toBe(specHash(workload, options))
    const otherImage = {
      ...workload,
      containers: [{ ...workload.containers[0]!, image: "localhost/web:2" }],
    }
    expect(specHash(otherImage, options)).not.toBe(specHash(workload, options))
    expect(podNameOf(workload, "web-0")).toBe("bm-shop-web-0")
  })

  it("behind a NAT: the sidecar gets the host's relays, and the pods are new ones", () => {
    const relay = "/ip4/10.77.0.11/tcp/4001/p2p/12D3KooWrelay"
    const natted = { ...options, relays: [relay] }
    const env = replicaPodSpec(workload, web1, 41000, natted).containers?.[0]?.env ?? {}
    expect(env.BEEMESH_RELAYS).toBe(relay)
    expect(spec.containers?.[0]?.env?.BEEMESH_RELAYS).toBeUndefined()
    expect(specHash(workload, natted)).not.toBe(specHash(workload, options))
  })

  it("the sidecar gets the mesh key as a secret variable; the spec label holds only its fingerprint; a rotated key makes new pods", () => {
    const meshKey = generateMeshKey()
    const keyed = { ...options, meshKey }
    const pod = replicaPodSpec(workload, web1, 41000, keyed)
    expect(pod.containers?.[0]?.env?.BEEMESH_MESH_KEY).toBe(meshKey.hex)
    for (const app of pod.containers?.slice(1) ?? [])
      expect(JSON.stringify(app)).not.toContain(meshKey.hex)
    expect(JSON.stringify(pod.labels)).not.toContain(meshKey.hex)
    expect(spec.containers?.[0]?.env?.BEEMESH_MESH_KEY).toBeUndefined()
    expect(specHash(workload, keyed)).not.toBe(specHash(workload, options))
    expect(specHash(workload, { ...options, meshKey: new MeshKey({ hex: meshKey.hex }) })).toBe(
      specHash(workload, keyed),
    )
    expect(specHash(workload, { ...options, meshKey: generateMeshKey() })).not.toBe(
      specHash(workload, keyed),
    )
  })

  it("the sidecar gets the mesh authority's peer id; a new authority makes new pods", () => {
    const meshAuthority = "12D3KooWA5WvmLtbRyfaPHzYBgMuD8kVFr7Ek5khaKPBB6A4jRE2"
    const certified = { ...options, meshAuthority }
    const pod = replicaPodSpec(workload, web1, 41000, certified)
    expect(pod.containers?.[0]?.env?.BEEMESH_MESH_AUTHORITY).toBe(meshAuthority)
    expect(spec.containers?.[0]?.env?.BEEMESH_MESH_AUTHORITY).toBeUndefined()
    expect(specHash(workload, certified)).not.toBe(specHash(workload, options))
    const other = {
      ...options,
      meshAuthority: "12D3KooWBizUHYeeaTVbqVXEbtvknQqajxN5iL3yz1ivbL7pdC7c",
    }
    expect(specHash(workload, other)).not.toBe(specHash(workload, certified))
  })
})

describe("readiness probes in the pod", () => {
  const probe = {
    container: "app",
    action: "httpGet" as const,
    port: 80,
    path: "/ready",
    initialDelaySeconds: 0,
    periodSeconds: 10,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  }
  const probed: Workload = {
    ...workload,
    containers: workload.containers.map((c) => ({ ...c, readinessProbe: probe })),
  }

  it("are handed to the sidecar (which runs them), not to the app", () => {
    const [sidecar, app] = replicaPodSpec(probed, web1, 41000, options).containers ?? []
    expect(JSON.parse(sidecar?.env?.BEEMESH_READINESS_PROBES ?? "null")).toEqual([probe])
    expect(app?.env).not.toHaveProperty("BEEMESH_READINESS_PROBES")
  })

  it("a pod without probes gets no probe variable, and a probe changes the spec hash", () => {
    const [sidecar] = replicaPodSpec(workload, web1, 41000, options).containers ?? []
    expect(sidecar?.env).not.toHaveProperty("BEEMESH_READINESS_PROBES")
    expect(specHash(probed, options)).not.toBe(specHash(workload, options))
  })
})

describe("replicaPodSpec with the same-host directory", () => {
  const withSameHost = { ...options, sameHostDirectory: "/var/lib/beemesh/samehost" }
  const spec = replicaPodSpec(workload, web1, 41000, withSameHost)
  const sidecar = spec.containers.find((c) => c.role === "sidecar")
  const apps = spec.containers.filter((c) => c.role === "app")

  it("mounts it into the sidecar only, where the sidecar is told to find it", () => {
    expect(sidecar?.mounts).toEqual([
      { source: "/var/lib/beemesh/samehost", destination: "/run/beemesh/samehost" },
    ])
    expect(sidecar?.env?.BEEMESH_SAMEHOST_DIR).toBe("/run/beemesh/samehost")
    expect(apps.length).toBeGreaterThan(0)
    for (const app of apps) {
      expect(app.mounts).toBeUndefined()
      expect(app.env?.BEEMESH_SAMEHOST_DIR).toBeUndefined()
    }
  })

  it("replaces pods from before the path (their sidecars lack the mount)", () => {
    expect(specHash(workload, withSameHost)).not.toBe(specHash(workload, options))
    const without = replicaPodSpec(workload, web1, 41000, options)
    expect(without.containers.find((c) => c.role === "sidecar")?.mounts).toBeUndefined()
  })
})

describe("podNameOrder", () => {
  it("orders digit runs as numbers and the rest by code unit, as a total order", () => {
    const names = [
      "bm-shop-web-10",
      "bm-shop-web-2",
      "bm-shop-web-0",
      "bm-shop-api-1",
      "bm-shop-web-1",
      "bm-shop2-web-0",
      "bm-shop-web-01",
      "bm-shop-web-99999999999999999999",
      "bm-shop-web-100000000000000000000",
      "bm-shop-web",
      "bm-shop-web-1a",
    ]
    expect(Arr.sort(names, podNameOrder)).toEqual([
      "bm-shop-api-1",
      "bm-shop-web",
      "bm-shop-web-0",
      "bm-shop-web-01",
      "bm-shop-web-1",
      "bm-shop-web-1a",
      "bm-shop-web-2",
      "bm-shop-web-10",
      "bm-shop-web-99999999999999999999",
      "bm-shop-web-100000000000000000000",
      "bm-shop2-web-0",
    ])
    for (const a of names)
      for (const b of names) {
        expect(podNameOrder(a, b), `${a} ${b}`).toBe(-podNameOrder(b, a) || 0)
        expect(podNameOrder(a, b) === 0).toBe(a === b)
      }
  })
})
