/**
 * Service traffic end to end: known traffic through real pods (a caller's sidecar upstream port →
 * libp2p → the provider's sidecar → its app), then the agent's counters — collected from the
 * sidecars with their lease renewals — match it within 1 %, on /metrics, /v1/traffic and in
 * `beemesh top`. The agent runs with a 3 s lease, so sidecars report every second. Then the web
 * dashboard in a real headless browser (Debian's chromium driven by Playwright) shows the
 * workloads, services, peers and the web→orders edge, and follows new traffic; screenshots go to
 * .reports/.
 */
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  AGENT_DIR,
  type AgentProcess,
  api,
  eventually,
  freePort,
  requirePrerequisites,
  runAsync,
  startAgent,
} from "./support"

const CLI = join(AGENT_DIR, "../cli/dist/beemesh.mjs")
const CHROMIUM = "/usr/bin/chromium"
const SCREENSHOTS = join(AGENT_DIR, ".reports/dashboard")
const ns = `tr-${randomBytes(3).toString("hex")}`
const CONNECTIONS = 20
let dataDir: string
let agent: AgentProcess
let browser: Browser | undefined

const ordersManifest = `apiVersion: apps/v1
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
// A quiet caller: its app (busybox httpd) never calls out, so the only traffic to orders is the
// test's own, sent from web's sidecar container to the upstream port its app would use.
const webManifest = `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE} }]
`

/**
 * N HTTP/1.0 requests of different sizes to 127.0.0.1:9001 in web's pod, one connection each;
 * prints what the client wrote and read in total.
 */
const CLIENT = `
const net = require("node:net")
const fs = require("node:fs")
// The upstream listener may still be starting: wait for it in /proc/net/tcp (0A = LISTEN) rather
// than probing, which would open a proxied connection and count it.
const listening = () => fs.readFileSync("/proc/net/tcp", "utf8").split("\\n").some((l) => / 0100007F:2329 .* 0A /.test(l))
const waitListening = async () => {
  for (let i = 0; i < 200 && !listening(); i++) await new Promise((r) => setTimeout(r, 50))
  if (!listening()) throw new Error("nothing listens on 127.0.0.1:9001 after 10 s")
}
const one = (i) => new Promise((resolve, reject) => {
  const socket = net.connect(9001, "127.0.0.1")
  const request = "GET /cgi-bin/orders HTTP/1.0\\r\\nHost: orders\\r\\nX-Pad: " + "x".repeat(100 + 37 * i) + "\\r\\n\\r\\n"
  let received = 0
  socket.on("data", (d) => { received += d.length })
  socket.on("error", reject)
  socket.on("close", () => resolve({ sent: Buffer.byteLength(request), received }))
  socket.setTimeout(5000, () => socket.destroy(new Error("timeout")))
  socket.end(request)
})
;(async () => {
  await waitListening()
  let sent = 0, received = 0, answered = 0
  for (let i = 0; i < ${CONNECTIONS}; i++) {
    const r = await one(i)
    sent += r.sent; received += r.received; if (r.received > 0) answered++
  }
  process.stdout.write(JSON.stringify({ sent, received, answered }))
})().catch((e) => { console.error(String(e)); process.exit(1) })
`

/** Runs CLIENT in web's sidecar container (exec into app containers is not always possible). */
const sendFromWeb = async () => {
  const result = await runAsync("podman", [
    "exec",
    `bm-${ns}-web-sidecar`,
    "/usr/local/bin/node",
    "-e",
    CLIENT,
  ])
  if (result.stderr !== "") {
    // What the two sidecars said about it: a failed connection is theirs to explain.
    const logs = await Promise.all(
      [`bm-${ns}-web-sidecar`, `bm-${ns}-orders-0-sidecar`].map(async (c) => {
        const out = await runAsync("podman", ["logs", "--tail", "40", c])
        return `--- ${c}:\n${out.stdout}${out.stderr}`
      }),
    )
    expect.fail(`the client failed: ${result.stderr}\n${logs.join("\n")}`)
  }
  return JSON.parse(result.stdout) as { sent: number; received: number; answered: number }
}

interface Series {
  readonly namespace: string
  readonly service: string
  readonly caller: string
  readonly callee: string
  readonly reporter: string
  readonly connections: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly errors: number
  readonly refused: number
}

const traffic = async () =>
  (((await api(agent, "GET", "/v1/traffic")).json?.series ?? []) as ReadonlyArray<Series>).filter(
    (s) => s.namespace === ns,
  )

const sample = (text: string, name: string, labels: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(" ") + 1))
}

const isWithin1Percent = (actual: number, expected: number) =>
  Math.abs(actual - expected) <= expected * 0.01
const within1Percent = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * 0.01)

beforeAll(async () => {
  requirePrerequisites()
  if (!existsSync(CLI)) throw new Error(`${CLI} missing (pnpm --filter @beemesh/cli build)`)
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} missing: apt-get install chromium (tooling/scripts/host-setup.sh)`)
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-traffic-"))
  agent = await startAgent(dataDir, await freePort(), undefined, ["--lease-seconds", "3"])
})

afterAll(async () => {
  await browser?.close()
  for (const workload of ["web", "orders"])
    await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  await agent?.stop()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("service traffic at the agent", () => {
  let client: { sent: number; received: number; answered: number }

  it("known traffic from web to orders through the sidecars", async () => {
    for (const manifest of [ordersManifest, webManifest])
      expect((await api(agent, "POST", "/v1/workloads", manifest)).status).toBe(201)
    await eventually("orders in the registry", async () => {
      const providers = (await api(agent, "GET", `/v1/services/${ns}/orders`)).json?.providers
      return Array.isArray(providers) && providers.length === 1 ? true : undefined
    })
    client = await sendFromWeb()
    expect(client.answered).toBe(CONNECTIONS)
    expect(client.received).toBeGreaterThan(CONNECTIONS * 50)
  })

  it("the agent's counters match it within 1 % after a renewal, for both sides", async () => {
    // A connection counts from its setup and its bytes as they flow: a report taken while the
    // last answer was on its way has all the connections and not all the bytes. The next has.
    let last: ReadonlyArray<Series> = []
    const [caller, provider] = await eventually(
      `${CONNECTIONS} connections web→orders and their bytes reported by both sidecars`,
      async () => {
        last = await traffic()
        const c = last.find((s) => s.reporter === "caller" && s.service === "orders")
        const p = last.find((s) => s.reporter === "provider" && s.service === "orders")
        return c?.connections === CONNECTIONS &&
          p?.connections === CONNECTIONS &&
          isWithin1Percent(c.bytesReceived, client.received) &&
          isWithin1Percent(p.bytesSent, client.received)
          ? ([c, p] as const)
          : undefined
      },
      20_000,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last reported: ${JSON.stringify(last)}`)
    })
    expect(caller).toMatchObject({ caller: "web", callee: "orders", errors: 0, refused: 0 })
    within1Percent(caller.bytesSent, client.sent)
    within1Percent(caller.bytesReceived, client.received)
    expect(provider).toMatchObject({ caller: "", callee: "orders", errors: 0 })
    within1Percent(provider.bytesReceived, client.sent)
    within1Percent(provider.bytesSent, client.received)
  })

  it("/metrics carries them as beemesh_service_* with the setup-time histogram", async () => {
    // The metrics token reads /metrics (and nothing else); the operator token would too.
    const metricsToken = readFileSync(join(dataDir, "metrics-token"), "utf8").trim()
    const response = await fetch(`${agent.url}/metrics`, {
      headers: { authorization: `Bearer ${metricsToken}` },
    })
    const text = await response.text()
    const labels = `namespace="${ns}",service="orders",caller="web",callee="orders",reporter="caller"`
    expect(sample(text, "beemesh_service_connections_total", labels)).toBe(CONNECTIONS)
    within1Percent(
      sample(text, "beemesh_service_bytes_total", `${labels},direction="sent"`),
      client.sent,
    )
    within1Percent(
      sample(text, "beemesh_service_bytes_total", `${labels},direction="received"`),
      client.received,
    )
    expect(sample(text, "beemesh_service_errors_total", labels)).toBe(0)
    expect(sample(text, "beemesh_service_refused_total", labels)).toBe(0)
    expect(
      sample(text, "beemesh_service_connection_setup_seconds_bucket", `${labels},le="+Inf"`),
    ).toBe(CONNECTIONS)
    expect(sample(text, "beemesh_service_connection_setup_seconds_count", labels)).toBe(CONNECTIONS)
    expect(sample(text, "beemesh_service_connection_setup_seconds_sum", labels)).toBeGreaterThan(0)
  })

  it("beemesh top shows the web→orders pair", () => {
    const result = spawnSync(
      process.execPath,
      [CLI, "top", "-n", ns, "--server", agent.url, "--token", agent.token],
      { encoding: "utf8", timeout: 30_000, env: { PATH: process.env.PATH ?? "", HOME: dataDir } },
    )
    expect(result.stderr).toBe("")
    expect(result.stdout).toMatch(
      new RegExp(`^${ns}\\s+orders\\s+web\\s+orders\\s+caller\\s+${CONNECTIONS}\\s`, "m"),
    )
  })

  it("the dashboard in a real browser shows workloads, services, peers and the web→orders edge, live", async () => {
    await mkdir(SCREENSHOTS, { recursive: true })
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const problems: Array<string> = []
    page.on("pageerror", (error) => problems.push(error.message))
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()))

    // Without a token the page asks for one; a wrong one is refused with a message.
    await page.goto(`${agent.url}/ui`)
    await page.locator("#login").waitFor({ state: "visible", timeout: 10_000 })
    await page.fill("#token", "not-the-token")
    await page.click("#login button[type=submit]")
    await page.getByText("The agent refused this token").waitFor({ timeout: 10_000 })
    expect(await page.locator("#main").isVisible()).toBe(false)
    await page.screenshot({ path: join(SCREENSHOTS, "login.png") })

    // The token in the fragment is taken, kept in sessionStorage and removed from the address.
    await page.goto(`${agent.url}/ui#token=${encodeURIComponent(agent.token)}`)
    const edge = page.locator('#traffic g.edge[data-from="web"][data-to="orders"]')
    await edge.waitFor({ timeout: 15_000 })
    expect(new URL(page.url()).hash).toBe("")
    expect(await page.locator("#login").isVisible()).toBe(false)
    expect(await page.evaluate(() => sessionStorage.getItem("beemesh.operatorToken"))).toBe(
      agent.token,
    )
    expect(await edge.getAttribute("data-connections")).toBe(String(CONNECTIONS))
    expect(await edge.textContent()).toContain(`orders · ${CONNECTIONS} conns`)
    for (const workload of ["web", "orders"])
      await expect(
        page.locator(`#traffic g.node[data-workload="${workload}"]`).count(),
      ).resolves.toBe(1)

    const rows = (id: string) =>
      page.$$eval(`#${id} tr`, (trs) =>
        trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim() ?? "")),
      )
    const workloads = await rows("workloads")
    expect(workloads).toContainEqual([ns, "orders", "Deployment", "1/1", "orders-0 Running"])
    expect(workloads).toContainEqual([ns, "web", "Pod", "1/1", "web Running"])
    expect(await rows("services")).toContainEqual([ns, "orders", "orders:80", "1 (orders-0)"])
    const peerId = String((await api(agent, "GET", "/health")).json?.peerId)
    expect(await page.locator("#peer-summary").textContent()).toContain(peerId)
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard.png"), fullPage: true })

    // New traffic reaches the open page through its refresh: the edge's count grows.
    await sendFromWeb()
    await page
      .locator(
        `#traffic g.edge[data-from="web"][data-to="orders"][data-connections="${2 * CONNECTIONS}"]`,
      )
      .waitFor({ timeout: 15_000 })
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard-live.png"), fullPage: true })
    expect(problems.filter((p) => !p.includes("401"))).toEqual([])
  })
})
