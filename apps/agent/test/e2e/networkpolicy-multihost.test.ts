/**
 * NetworkPolicy across simulated hosts: host A runs web (a caller of orders), host B the orders
 * replica. A deny-all policy for orders applied on A (which has no orders replica) reaches B
 * through the DHT (PolicySync: published within 1 s, polled every 5 s) and B's orders sidecar
 * (its next lease renewal, 10 s with the default lease): web's calls are refused within the bound,
 * and deleting the policy on A lets them through again.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import { type SimulatedHost, SimulatedHosts } from "../support/hosts/SimulatedHosts"
import { sweep } from "../support/hosts/Sweeper"
import { waitFor } from "../support/hosts/wait"
import { AGENT_DIR, SIDECAR_IMAGE } from "./support"

const ns = `npmh-${randomBytes(3).toString("hex")}`
/** Publish (1 s) + poll (5 s) + DHT lookup + renewal (10 s), with room for a loaded machine. */
const BOUND_MS = 40_000
let cluster: SimulatedHosts
let a: SimulatedHost
let b: SimulatedHost

const ordersManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`
const webManifest = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  labels: { app: web }
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers:
    - name: app
      image: ${WEB_IMAGE}
      env: [{ name: WEB_INTERVAL, value: "30" }]
`
const denyOrders = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: orders-deny-all, namespace: ${ns} }
spec:
  podSelector: { matchLabels: { app: orders } }
  policyTypes: [Ingress]
`

/** One request from web's app on A to orders through its sidecar: answered or not. */
const call = async () => {
  const output = await a
    .execInApp(
      `bm-${ns}-web-app`,
      "/bin/busybox",
      "timeout",
      "4",
      "/bin/busybox",
      "wget",
      "-q",
      "-O",
      "-",
      "http://127.0.0.1:9001/cgi-bin/orders",
    )
    .catch((error: Error) => error.message)
  return /open orders/.test(output)
}

beforeAll(async () => {
  await sweep()
  cluster = await SimulatedHosts.create({
    count: 2,
    images: [SIDECAR_IMAGE, ORDERS_IMAGE, WEB_IMAGE],
  })
  ;[a, b] = cluster.hosts as [SimulatedHost, SimulatedHost]
  for (const [host, manifest] of [
    [b, ordersManifest],
    [a, webManifest],
  ] as const)
    expect((await host.api("POST", "/v1/workloads", manifest)).status).toBe(201)
  await waitFor(
    "web on A answered by orders on B",
    async () => ((await call()) ? true : undefined),
    120_000,
  )
}, 300_000)

afterAll(async () => {
  await cluster
    ?.collectLogs(join(AGENT_DIR, ".reports/networkpolicy-multihost"))
    .catch(() => undefined)
  await cluster?.teardown()
})

describe("a NetworkPolicy applied on one host is enforced by a pod on another", () => {
  it("deny-all for orders applied on A: B adopts it and refuses web's calls within the bound", async () => {
    expect((await a.api("POST", "/v1/workloads", denyOrders)).status).toBe(201)
    const appliedAt = Date.now()
    await waitFor(
      "B to hold the policy applied on A",
      async () => {
        const listed = (await b.api("GET", "/v1/networkpolicies")).json?.networkPolicies as
          | Array<{ name: string }>
          | undefined
        return listed?.some((p) => p.name === "orders-deny-all") ? true : undefined
      },
      BOUND_MS,
    )
    await waitFor("web's call refused", async () => ((await call()) ? undefined : true), BOUND_MS)
    const took = Date.now() - appliedAt
    console.log(`policy applied on A enforced by B's orders sidecar after ${took} ms`)
    expect(took).toBeLessThan(BOUND_MS)
    expect(await call()).toBe(false)
  }, 120_000)

  it("deleting it on A lets web through again within the bound", async () => {
    expect((await a.api("DELETE", `/v1/networkpolicies/${ns}/orders-deny-all`)).status).toBe(204)
    await waitFor("web answered again", async () => ((await call()) ? true : undefined), BOUND_MS)
  }, 120_000)
})
