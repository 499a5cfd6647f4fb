/**
 * The same-host path end to end: two pods of one agent talk over their sidecars' unix sockets in
 * the agent's same-host directory (still a Noise + Yamux libp2p connection), not through their
 * slirp4netns. The sidecars' /metrics show the connection's transport; the directory (mode 1733)
 * is mounted into sidecars only, so an app sees no socket; a pod's socket goes with the pod.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readdir, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  appExec,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  runAsync,
  startAgent,
} from "./support"

const ns = `sh-${randomBytes(3).toString("hex")}`
let dataDir: string | undefined
let agent: AgentProcess | undefined
let peerId = ""

const ordersManifest = `apiVersion: v1
kind: Pod
metadata: { name: orders, namespace: ${ns} }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`
const webManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE} }]
`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")

/** A sidecar's /metrics, read inside its container (the health port is on the pod's loopback). */
const metricsOf = async (pod: string) => {
  const result = await runAsync("podman", [
    "exec",
    `bm-${ns}-${pod}-sidecar`,
    "/usr/local/bin/node",
    "-e",
    'fetch("http://127.0.0.1:8081/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))',
  ])
  expect(result.stderr).toBe("")
  return result.stdout
}

const connections = (text: string, transport: string) => {
  const line = text
    .split("\n")
    .find((l) =>
      l.startsWith(`beemesh_sidecar_libp2p_connections_by_transport{transport="${transport}"} `),
    )
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1))
}

const ready = (name: string) =>
  eventually(`${name} ready`, async () => {
    const status = await api(agent!, "GET", `/v1/workloads/${ns}/${name}`)
    return status.json?.ready === 1 ? true : undefined
  })

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-samehost-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  for (const name of ["web", "orders"])
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${name}`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== "") await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("same-host path", () => {
  it("two pods of one agent talk over their sidecars' unix sockets; apps never see them; sockets go with their pods", async () => {
    const a = agent!
    const directory = join(dataDir!, "samehost")
    expect((await api(a, "POST", "/v1/workloads", ordersManifest)).status).toBe(201)
    expect((await api(a, "POST", "/v1/workloads", webManifest)).status).toBe(201)
    await ready("orders")
    await ready("web")

    // The directory: mode 1733, one socket per sidecar, named by pod and peer id.
    expect((await stat(directory)).mode & 0o7777).toBe(0o1733)
    const provider = await eventually("orders registered with its socket", async () => {
      const found = await api(a, "GET", `/v1/services/${ns}/orders`)
      const providers = (found.json?.providers ?? []) as Array<{
        peerId: string
        multiaddrs: Array<string>
      }>
      return providers[0]
    })
    const ordersSocket = `${SameHostSockets.socketPrefix(ns, "orders")}.${provider.peerId}`
    expect(await readdir(directory)).toContain(ordersSocket)
    // Registered after the published address: the path as the sidecars see it.
    expect(provider.multiaddrs[0]).toMatch(/^\/ip4\/.*\/tcp\/\d+\/p2p\//)
    expect(provider.multiaddrs).toContain(
      `/unix/${encodeURIComponent(`${SameHostSockets.MOUNT}/${ordersSocket}`)}/p2p/${provider.peerId}`,
    )

    // web's app calls orders through its upstream port.
    const answer = await eventually("orders answering web's app", async () => {
      const call = await appExec(`bm-${ns}-web-app`, [
        "/bin/busybox",
        "timeout",
        "5",
        "/bin/busybox",
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:9001/cgi-bin/orders",
      ])
      return call.status === 0 && call.stdout.includes("orders:") ? call.stdout : undefined
    })
    expect(answer).toContain("orders: 3 open orders")

    // The connection between the two sidecars is on the socket, at both ends; none over TCP.
    const web = await metricsOf("web")
    expect(connections(web, "unix")).toBe(1)
    expect(connections(web, "tcp")).toBe(0)
    const orders = await metricsOf("orders")
    expect(connections(orders, "unix")).toBe(1)
    expect(connections(orders, "tcp")).toBe(0)

    // The app sees neither the directory nor the socket: nothing to connect to (its own mounts).
    for (const path of [
      SameHostSockets.MOUNT,
      `${SameHostSockets.MOUNT}/${ordersSocket}`,
      join(directory, ordersSocket),
    ]) {
      const look = await appExec(`bm-${ns}-web-app`, ["/bin/busybox", "ls", "-la", path])
      expect(look.status).not.toBe(0)
    }
    // Nor through another process's root (its own PID namespace and user namespace).
    const around = await appExec(`bm-${ns}-web-app`, [
      "/bin/busybox",
      "sh",
      "-c",
      `/bin/busybox ls /proc/*/root${SameHostSockets.MOUNT} 2>/dev/null; true`,
    ])
    expect(around.stdout).not.toContain(ordersSocket)

    // Removing orders removes its socket; web's stays.
    expect((await api(a, "DELETE", `/v1/workloads/${ns}/orders`)).status).toBeLessThan(300)
    await eventually("orders' socket removed", async () =>
      (await readdir(directory)).includes(ordersSocket) ? undefined : true,
    )
    const left = await readdir(directory)
    expect(left.filter((n) => SameHostSockets.isSocketOfPod(n, ns, "web"))).toHaveLength(1)
  })
})
