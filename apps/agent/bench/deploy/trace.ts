/**
 * One deploy, traced: Podman's events (pod and container create/init/start), the agent's log and
 * the client's first answer, each as ms after the POST. Not a benchmark: a way to see where the
 * time of `bench:deploy` goes.
 *   tsx bench/deploy/trace.ts [--replicas 1] [--warm-pods N] [--bundle <agent.mjs>]
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { buildDemoImages, ORDERS_IMAGE } from "../../demo/images"
import { api, eventually, freePort, requirePrerequisites, startAgent } from "../../test/e2e/support"
import { awaitAnswers, hasStarted, logPathOf, podmanPodOf } from "./answers"
import { buildPollerImage, POLLER_IMAGE, POLLER_STARTED } from "./poller"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    replicas: { type: "string", default: "1" },
    bundle: { type: "string" },
    "warm-pods": { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    [
      "pnpm exec tsx bench/deploy/trace.ts [--replicas 1] [--bundle <agent.mjs>]   (from apps/agent)",
      "  --replicas N      replicas of the traced Deployment (default 1)",
      "  --bundle <file>   another build of the agent (default: dist/agent.mjs)",
      "  --warm-pods N     the agent keeps N pods made ahead of need (the POST waits for a full pool)",
      "Prints Podman's events, the agent's log and the sidecars' lines as ms after the POST.",
    ].join("\n"),
  )
  process.exit(0)
}
const REPLICAS = Number(args.replicas)
const WARM = Number(args["warm-pods"])
const ns = `trace-${process.pid}`

requirePrerequisites()
buildDemoImages()
buildPollerImage()
const dataDir = await mkdtemp(join(tmpdir(), "beemesh-trace-"))
const agent = await startAgent(
  dataDir,
  await freePort(),
  undefined,
  ["--log-level", "debug", "--log-format", "json", "--warm-pods", String(WARM)],
  args.bundle === undefined ? {} : { bundle: args.bundle },
)
const events = spawn("podman", ["events", "--format", "{{json .}}"], {
  stdio: ["ignore", "pipe", "ignore"],
})
let eventText = ""
events.stdout.on("data", (chunk) => (eventText += chunk))
try {
  await api(
    agent,
    "POST",
    "/v1/workloads",
    `apiVersion: v1
kind: Pod
metadata: { name: poll, namespace: ${ns}, annotations: { beemesh.io/upstreams: "orders=9001" } }
spec:
  containers:
    - { name: app, image: ${POLLER_IMAGE}, env: [{ name: POLL_URLS, value: "http://127.0.0.1:9001/cgi-bin/orders" }] }
`,
  )
  const logPath = await eventually("the poller", async () => {
    try {
      const path = logPathOf(`${await podmanPodOf(agent, ns, "poll")}-app`)
      return hasStarted(path, POLLER_STARTED) ? path : undefined
    } catch {
      return undefined
    }
  })
  // With warm pods: the poller claimed one, refilled 2 s after (then about a second to make).
  await new Promise((resolve) => setTimeout(resolve, WARM > 0 ? 4000 + 1500 * WARM : 3000))
  const logMark = agent.logs().length
  const eventMark = eventText.length
  const started = Date.now()
  const posted = await api(
    agent,
    "POST",
    "/v1/workloads",
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: ${REPLICAS}
  template:
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`,
  )
  const postMs = Date.now() - started
  const answered = await awaitAnswers(logPath, started, REPLICAS)
  await new Promise((resolve) => setTimeout(resolve, 500))
  const lines: Array<[number, string]> = [
    [postMs, `POST answered ${posted.status}`],
    [answered.first - started, "client: first answer"],
    [answered.all - started, `client: all ${REPLICAS} answering`],
  ]
  for (const line of eventText.slice(eventMark).split("\n")) {
    if (line === "") continue
    const e = JSON.parse(line) as {
      Name: string
      Status: string
      Type: string
      time: number
      timeNano?: number
      Time?: string
    }
    const at = e.timeNano !== undefined ? e.timeNano / 1e6 : Date.parse(e.Time ?? "")
    lines.push([at - started, `podman ${e.Type} ${e.Status} ${e.Name}`])
  }
  for (const line of agent.logs().slice(logMark).split("\n")) {
    if (!line.startsWith("{")) continue
    const entry = JSON.parse(line) as { timestamp: string; message: unknown; level?: string }
    lines.push([
      Date.parse(entry.timestamp) - started,
      `agent ${String(entry.message).slice(0, 160)}`,
    ])
  }
  // The sidecars' own lines (conmon stamps each with the time it was written).
  for (const [pod, label] of [
    [await podmanPodOf(agent, ns, "orders"), "provider sidecar"],
    [await podmanPodOf(agent, ns, "poll"), "client sidecar"],
  ] as const) {
    const logged = spawnSync("podman", ["logs", "--timestamps", `${pod}-sidecar`], {
      encoding: "utf8",
    })
    for (const line of `${logged.stdout}${logged.stderr}`.split("\n")) {
      const space = line.indexOf(" ")
      const at = Date.parse(line.slice(0, space))
      if (Number.isNaN(at)) continue
      lines.push([at - started, `${label} ${line.slice(space + 1, space + 161)}`])
    }
  }
  for (const [at, what] of lines.sort((a, b) => a[0] - b[0]))
    console.log(`${String(Math.round(at)).padStart(6)} ms  ${what}`)
} finally {
  await api(agent, "DELETE", `/v1/workloads/${ns}/orders`).catch(() => undefined)
  await api(agent, "DELETE", `/v1/workloads/${ns}/poll`).catch(() => undefined)
  events.kill()
  await agent.stop()
  await rm(dataDir, { recursive: true, force: true })
}
