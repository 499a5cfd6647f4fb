/**
 * NetworkPolicy on real pods: orders (app=orders) and two callers in one namespace, web (app=web)
 * and admin (app=admin), each calling orders through its sidecar's upstream port. Without a
 * policy both reach orders (the mesh default: same namespace). A real NetworkPolicy YAML admitting
 * only app=web is applied; within the bound (the lease renewal, 1 s with a 3 s lease) orders'
 * sidecar enforces it at its door: web's call still works, admin's is refused (its connection
 * reset, its sidecar logs "denied by policy"), and orders' sidecar counts the denial in /metrics.
 * Deleting the policy restores the default.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  requirePrerequisites,
  runAsync,
  startAgent,
} from "./support"

const ns = `np-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess

const ordersManifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80, name: http }] }]
`
const caller = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: { app: ${name} }
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE} }]
`
const policy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: orders-from-web
  namespace: ${ns}
spec:
  podSelector:
    matchLabels:
      app: orders
  policyTypes:
    - Ingress
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
      ports:
        - protocol: TCP
          port: 80
`

/** One HTTP/1.0 request to the upstream port in `pod`'s sidecar container: the answer, or why not. */
const CLIENT = `
const net = require("node:net")
const socket = net.connect(9001, "127.0.0.1")
let answer = ""
socket.on("data", (d) => { answer += d })
socket.on("error", (e) => { process.stdout.write(JSON.stringify({ error: e.code ?? String(e) })); process.exit(0) })
socket.on("close", () => { process.stdout.write(JSON.stringify({ answer })); process.exit(0) })
socket.setTimeout(5000, () => socket.destroy(new Error("timeout")))
socket.end("GET /cgi-bin/orders HTTP/1.0\\r\\nHost: orders\\r\\n\\r\\n")
`
const call = async (pod: string) => {
  const result = await runAsync("podman", [
    "exec",
    `bm-${ns}-${pod}-sidecar`,
    "/usr/local/bin/node",
    "-e",
    CLIENT,
  ])
  return JSON.parse(result.stdout) as { answer?: string; error?: string }
}
const answered = (r: { answer?: string }) => (r.answer ?? "").includes("200")

/** orders' sidecar /metrics, read inside its pod (the health port is the pod's own). */
const ordersMetrics = async () => {
  const list = await runAsync("podman", [
    "ps",
    "--format",
    "{{.Names}}",
    "--filter",
    `name=bm-${ns}-orders-.*-sidecar`,
  ])
  const container = list.stdout.trim().split("\n")[0]!
  const result = await runAsync("podman", [
    "exec",
    container,
    "/usr/local/bin/node",
    "-e",
    'fetch("http://127.0.0.1:8081/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))',
  ])
  return result.stdout
}
const sample = (text: string, name: string, labels: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1))
}

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-networkpolicy-"))
  agent = await startAgent(dataDir, await freePort(), undefined, ["--lease-seconds", "3"])
})

afterAll(async () => {
  await api(agent, "DELETE", `/v1/networkpolicies/${ns}/orders-from-web`).catch(() => undefined)
  for (const workload of ["web", "admin", "orders"])
    await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  await agent?.stop()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("NetworkPolicy enforced at the sidecars' doors", () => {
  it("without a policy both callers of the namespace reach orders", async () => {
    for (const manifest of [ordersManifest, caller("web"), caller("admin")])
      expect((await api(agent, "POST", "/v1/workloads", manifest)).status).toBe(201)
    await eventually("orders in the registry", async () => {
      const providers = (await api(agent, "GET", `/v1/services/${ns}/orders`)).json?.providers
      return Array.isArray(providers) && providers.length === 1 ? true : undefined
    })
    await eventually("web answered", async () => (answered(await call("web")) ? true : undefined))
    await eventually("admin answered", async () =>
      answered(await call("admin")) ? true : undefined,
    )
  }, 240_000)

  it("a policy admitting app=web only: web still answered, admin refused and counted, within the bound", async () => {
    const applied = await api(agent, "POST", "/v1/workloads", policy)
    expect(applied.status).toBe(201)
    const appliedAt = Date.now()
    // The bound: the next lease renewal of orders' sidecar (every second with a 3 s lease).
    const refused = await eventually(
      "admin refused",
      async () => {
        const r = await call("admin")
        return answered(r) ? undefined : r
      },
      10_000,
    )
    expect(Date.now() - appliedAt).toBeLessThan(10_000)
    expect(refused.answer ?? "").toBe("")
    expect(answered(await call("web"))).toBe(true)
    const metrics = await ordersMetrics()
    expect(metrics).toMatch(/^beemesh_sidecar_network_policies 1$/m)
    expect(
      sample(metrics, "beemesh_sidecar_proxy_denied_total", 'direction="inbound",reason="policy"'),
    ).toBeGreaterThanOrEqual(1)
    const logs = await runAsync("podman", ["logs", `bm-${ns}-admin-sidecar`])
    expect(`${logs.stdout}${logs.stderr}`).toMatch(/denied by policy at provider/)
  }, 60_000)

  it("deleting the policy restores the mesh default", async () => {
    expect((await api(agent, "DELETE", `/v1/networkpolicies/${ns}/orders-from-web`)).status).toBe(
      204,
    )
    await eventually(
      "admin answered again",
      async () => (answered(await call("admin")) ? true : undefined),
      10_000,
    )
  }, 30_000)
})
