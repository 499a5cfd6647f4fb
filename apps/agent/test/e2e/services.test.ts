/**
 * `v1 Service` end to end: a real agent over real Podman pods. A Deployment whose app listens on
 * 8088 and a Service (port 80, targetPort the named containerPort) in one file, and a client pod
 * with the upstream `orders=80`: its app reaches `http://orders:80/`. `beemesh delete -f` with the
 * Service's file withdraws it: the Deployment rolls without it and the name stops answering.
 * A Service of two ports (`web`: http 80 → 8088, metrics 9090 → 9100): a client with the
 * upstreams `web:http=80,web:metrics=9090` reaches both at the one name, `http://web:80/` and
 * `http://web:9090/`, and the plain `web=81` reaches the first port. A watch on a Service's
 * providers (`?wait=<version>`) is answered when the Service is withdrawn.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  AGENT_DIR,
  type AgentProcess,
  api,
  appExec,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  startAgent,
} from "./support"

const CLI = join(AGENT_DIR, "../cli/dist/beemesh.mjs")
const ns = `svc-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

// The Deployment is not named `orders`: its default service (its own name) must not answer for
// the Service once the Service is gone.
const deploymentDoc = `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders-app, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          command: [/bin/busybox, httpd, -f, -p, "127.0.0.1:8088", -h, /www]
          ports: [{ name: http, containerPort: 8088 }]
`
const serviceDoc = `apiVersion: v1
kind: Service
metadata: { name: orders, namespace: ${ns} }
spec:
  selector: { app: orders }
  ports: [{ name: web, port: 80, targetPort: http }]
`
// The client's upstream takes the Service's port: its app calls http://orders:80/.
const clientDoc = `apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=80" }
spec:
  containers:
    - name: app
      image: ${ORDERS_IMAGE}
      command: [/bin/busybox, sh, -c, "trap 'exit 0' TERM; while true; do /bin/busybox sleep 1; done"]
`

// Two app ports: httpd's CGI on 8088, and a second httpd serving a static `metrics` file on 9100.
const webAppDoc = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web-app, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          command:
            - /bin/busybox
            - sh
            - -c
            - >-
              /bin/busybox mkdir -p /metrics &&
              echo "metrics of $(/bin/busybox hostname)" > /metrics/metrics &&
              /bin/busybox httpd -p 127.0.0.1:9100 -h /metrics &&
              exec /bin/busybox httpd -f -p 127.0.0.1:8088 -h /www
          ports: [{ name: http, containerPort: 8088 }, { name: metrics, containerPort: 9100 }]
`
const webServiceDoc = `apiVersion: v1
kind: Service
metadata: { name: web, namespace: ${ns} }
spec:
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http }
    - { name: metrics, port: 9090, targetPort: metrics }
`
const webClientDoc = `apiVersion: v1
kind: Pod
metadata:
  name: webclient
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "web:http=80,web:metrics=9090,web=81" }
spec:
  containers:
    - name: app
      image: ${ORDERS_IMAGE}
      command: [/bin/busybox, sh, -c, "trap 'exit 0' TERM; while true; do /bin/busybox sleep 1; done"]
`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")

const clientGet = (url: string, pod = "client") =>
  appExec(`bm-${ns}-${pod}-app`, [
    "/bin/busybox",
    "timeout",
    "4",
    "/bin/busybox",
    "wget",
    "-q",
    "-O",
    "-",
    url,
  ])

const cli = (args: ReadonlyArray<string>) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, ...args, "--server", agent!.url, "--token", agent!.token],
      { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] },
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.once("error", reject)
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ status: code ?? -1, stdout, stderr })
    })
  })

beforeAll(async () => {
  requirePrerequisites()
  if (!existsSync(CLI)) throw new Error(`${CLI} missing (pnpm --filter @beemesh/cli build)`)
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-services-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("v1 Services on a real agent", () => {
  it("a Deployment and its Service in one file: a client reaches http://orders:80/, the app on 8088", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${deploymentDoc}---\n${serviceDoc}---\n${clientDoc}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    expect(applied.json?.services).toEqual([
      { namespace: ns, name: "orders", selector: { app: "orders" }, port: 80, targetPort: "http" },
    ])
    const listed = await api(agent!, "GET", "/v1/configs")
    expect(listed.json?.services).toEqual([
      {
        namespace: ns,
        name: "orders",
        selector: { app: "orders" },
        port: 80,
        targetPort: "http",
        selects: [`${ns}/orders-app`],
      },
    ])
    const status = await api(agent!, "GET", `/v1/workloads/${ns}/orders-app`)
    expect(status.json?.services).toEqual([
      { name: "orders-app", port: 8088 },
      { name: "orders", port: 8088 },
    ])
    const answer = await eventually(
      "the client's app to reach http://orders:80/",
      async () => {
        const got = await clientGet("http://orders:80/cgi-bin/orders")
        return got.status === 0 ? got : undefined
      },
      90_000,
    )
    expect(answer.stdout).toMatch(new RegExp(`answered by pod bm-${ns}-orders-app-0`))
    // The namespaced name too, as in Kubernetes.
    const namespaced = await clientGet(`http://orders.${ns}.svc.cluster.local:80/cgi-bin/orders`)
    expect(namespaced.stdout).toMatch(/answered by pod/)
  })

  it("beemesh delete -f with the Service's file withdraws it: the Deployment rolls without it", async () => {
    const before = (await api(agent!, "GET", `/v1/workloads/${ns}/orders-app`)).json?.revision
    // A watch on the Service's providers, as a client's sidecar holds one: answered with the
    // same set until the provider is withdrawn, then with none.
    const held = await api(agent!, "GET", `/v1/services/${ns}/orders`)
    expect(held.json?.providers).toHaveLength(1)
    const watched = (async () => {
      for (;;) {
        const path = `/v1/services/${ns}/orders?wait=${String(held.json?.version)}`
        const answer = await api(agent!, "GET", path)
        expect(answer.status).toBe(200)
        if (answer.json?.version === held.json?.version) {
          expect(answer.json?.providers).toEqual(held.json?.providers)
          continue
        }
        return answer.json
      }
    })()
    const file = join(dataDir, "service.yaml")
    await writeFile(file, serviceDoc)
    const deleted = await cli(["delete", "-f", file])
    expect(deleted, deleted.stderr).toMatchObject({
      status: 0,
      stdout: `Service ${ns}/orders deleted\n`,
    })
    expect((await api(agent!, "GET", "/v1/configs")).json?.services).toEqual([])
    await eventually(
      "orders-app to roll to a revision without the Service",
      async () => {
        const status = (await api(agent!, "GET", `/v1/workloads/${ns}/orders-app`)).json
        const pods = (status?.pods ?? []) as Array<{ revision?: string; phase: string }>
        return status?.revision !== before &&
          pods.length === 1 &&
          pods[0]?.revision === status?.revision &&
          pods[0]?.phase === "Running"
          ? true
          : undefined
      },
      120_000,
    )
    expect((await api(agent!, "GET", `/v1/workloads/${ns}/orders-app`)).json?.services).toEqual([
      { name: "orders-app", port: 8088 },
    ])
    await eventually("the registry to hold no provider of orders", async () => {
      const providers = (await api(agent!, "GET", `/v1/services/${ns}/orders`)).json?.providers
      return Array.isArray(providers) && providers.length === 0 ? true : undefined
    })
    expect((await watched)?.providers).toEqual([])
    const refused = await clientGet("http://orders:80/cgi-bin/orders")
    expect(refused.status).not.toBe(0)
    // Deleting it again says it is gone.
    const again = await api(agent!, "DELETE", `/v1/configs/services/${ns}/orders`)
    expect(again.status).toBe(404)
    expect(again.json?.message).toContain(`Service ${ns}/orders does not exist`)
  })

  it("a Service of two ports: a client reaches each by the one name, http://web:80/ and http://web:9090/", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${webAppDoc}---\n${webServiceDoc}---\n${webClientDoc}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    expect(applied.json?.services).toEqual([
      {
        namespace: ns,
        name: "web",
        selector: { app: "web" },
        port: 80,
        targetPort: "http",
        ports: [
          { name: "http", port: 80, targetPort: "http" },
          { name: "metrics", port: 9090, targetPort: "metrics" },
        ],
      },
    ])
    const status = await api(agent!, "GET", `/v1/workloads/${ns}/web-app`)
    expect(status.json?.services).toEqual([
      { name: "web-app", port: 8088 },
      { name: "web", port: 8088 },
      { name: "web--http", port: 8088 },
      { name: "web--metrics", port: 9100 },
    ])
    const orders = await eventually(
      "the client's app to reach http://web:80/",
      async () => {
        const got = await clientGet("http://web:80/cgi-bin/orders", "webclient")
        return got.status === 0 ? got : undefined
      },
      90_000,
    )
    expect(orders.stdout).toMatch(new RegExp(`answered by pod bm-${ns}-web-app-0`))
    const metrics = await eventually("the client's app to reach http://web:9090/", async () => {
      const got = await clientGet("http://web:9090/metrics", "webclient")
      return got.status === 0 ? got : undefined
    })
    expect(metrics.stdout.trim()).toBe(`metrics of bm-${ns}-web-app-0`)
    // The namespaced name serves the second port too; the plain upstream `web` is the first port.
    const namespaced = await clientGet(`http://web.${ns}.svc:9090/metrics`, "webclient")
    expect(namespaced.stdout.trim()).toBe(`metrics of bm-${ns}-web-app-0`)
    const plain = await clientGet("http://web:81/cgi-bin/orders", "webclient")
    expect(plain.stdout).toMatch(/answered by pod/)
    // Each port is its own registration in the registry.
    for (const name of ["web--http", "web--metrics"]) {
      const providers = (await api(agent!, "GET", `/v1/services/${ns}/${name}`)).json?.providers
      expect(Array.isArray(providers) ? providers.length : 0, name).toBeGreaterThan(0)
    }
  })

  it("a two-port Service with a port name twice is refused with 422 naming it; nothing is applied", async () => {
    const duplicate = webServiceDoc
      .replace("name: web,", "name: web2,")
      .replace("name: metrics, port: 9090", "name: http, port: 9090")
    const refused = await api(agent!, "POST", "/v1/workloads", duplicate)
    expect(refused.status).toBe(422)
    expect(refused.json?.message).toContain(
      'spec.ports[1].name "http" is a duplicate of spec.ports[0].name',
    )
    const services = (await api(agent!, "GET", "/v1/configs")).json?.services as ReadonlyArray<{
      name: string
    }>
    expect(services.map((service) => service.name)).not.toContain("web2")
  })
})
