/**
 * The demo (`tooling/run demo`): a running agent with two workloads on images built offline.
 * `web`'s app asks `orders` through its sidecar's upstream port and prints the answer; it also
 * tries to reach the agent directly, which its pod's egress rules block.
 *
 *   tooling/run demo             start (or reuse) the agent on 127.0.0.1:8080 and deploy the demo
 *   tooling/run demo --hosts N   the same on N simulated hosts (multihost.ts)
 *   tooling/run demo stop        delete the demo workloads and stop the demo's agents
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { AGENT_NODE_OPTIONS } from "../src/NodeOptions"
import { findAgentProcesses } from "./agentProcesses"
import { buildDemoImages } from "./images"
import { startMultihost, stopMultihost } from "./multihost"

const DEMO_DIR = dirname(fileURLToPath(import.meta.url))
const AGENT_DIR = join(DEMO_DIR, "..")
const BUNDLE = join(AGENT_DIR, "dist/agent.mjs")
const DATA_DIR =
  process.getuid?.() === 0
    ? "/var/lib/beemesh"
    : join(process.env.HOME ?? "/tmp", ".local/share/beemesh")
const PID_FILE = join(DATA_DIR, "demo-agent.pid")
const LOG_FILE = join(DATA_DIR, "agent.log")
const API = "http://127.0.0.1:8080"
const SIDECAR_IMAGE = "localhost/beemesh/sidecar:0.1.0"

const say = (line: string) => console.log(`demo: ${line}`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const until = async <A>(
  what: string,
  check: () => Promise<A | undefined>,
  timeoutMs: number,
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await sleep(500)
  }
}

const healthy = async () => {
  const response = await fetch(`${API}/health`, { signal: AbortSignal.timeout(2000) })
  return response.ok ? ((await response.json()) as { peerId: string }) : undefined
}

const token = () => readFileSync(join(DATA_DIR, "operator-token"), "utf8").trim()

const request = async (method: string, path: string, body?: string) => {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}` },
    ...(body === undefined ? {} : { body }),
  })
  const text = await response.text()
  if (!response.ok && response.status !== 404)
    throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text
}

const ensureSidecarImage = () => {
  if (spawnSync("podman", ["image", "exists", SIDECAR_IMAGE]).status !== 0) {
    say(`building the sidecar image ${SIDECAR_IMAGE} (offline)`)
    const built = spawnSync("pnpm", ["--filter", "@beemesh/sidecar", "image"], { stdio: "inherit" })
    if (built.status !== 0) throw new Error("building the sidecar image failed")
  }
}

const start = async () => {
  ensureSidecarImage()
  say("building the demo images (busybox, offline)")
  buildDemoImages()
  if ((await healthy().catch(() => undefined)) === undefined) {
    mkdirSync(DATA_DIR, { recursive: true, mode: 0o700 })
    say(`starting the agent (logs: ${LOG_FILE})`)
    const log = openSync(LOG_FILE, "a")
    const agent = spawn(
      process.execPath,
      [...AGENT_NODE_OPTIONS, BUNDLE, "run", "--data-dir", DATA_DIR],
      {
        detached: true,
        stdio: ["ignore", log, log],
      },
    )
    agent.unref()
    writeFileSync(PID_FILE, String(agent.pid))
  } else {
    say("an agent already answers on 127.0.0.1:8080; using it")
  }
  const { peerId } = await until("the agent's /health (see its log)", healthy, 60_000)
  say(`agent ${peerId} is up at ${API}`)
  for (const name of ["orders.yaml", "web.yaml"]) {
    say(`deploying ${name}`)
    await request("POST", "/v1/workloads", readFileSync(join(DEMO_DIR, name), "utf8"))
  }
  const lines = await until(
    "web's app to print an answer from orders",
    async () => {
      const logs = spawnSync("podman", ["logs", "bm-demo-web-app"], { encoding: "utf8" }).stdout
      const answered = logs.split("\n").filter((line) => line.startsWith("web: "))
      const first = answered.findIndex((line) => line.includes("open orders"))
      const shown = first === -1 ? [] : answered.slice(first, first + 4)
      return shown.length === 4 ? shown : undefined
    },
    120_000,
  )
  say("web's app says (podman logs bm-demo-web-app):")
  for (const line of lines) console.log(`    ${line}`)
  console.log(`
The agent keeps running with the two workloads. Try:
  TOKEN=$(cat ${join(DATA_DIR, "operator-token")})
  curl -s -H "Authorization: Bearer $TOKEN" ${API}/v1/workloads
  curl -s -H "Authorization: Bearer $TOKEN" ${API}/v1/services/demo/orders
  podman logs -f bm-demo-web-app
Stop and clean up:  tooling/run demo stop`)
}

const exited = (pid: number) => {
  try {
    process.kill(pid, 0)
    return undefined
  } catch {
    return true
  }
}

const stop = async () => {
  const multihost = await stopMultihost()
  if ((await healthy().catch(() => undefined)) !== undefined) {
    for (const workload of ["web", "orders"]) {
      say(`deleting demo/${workload}`)
      await request("DELETE", `/v1/workloads/demo/${workload}`)
    }
  }
  // The PID file can be stale (the agent restarted since): find the agent by its data directory
  // and API address too.
  const recorded = existsSync(PID_FILE) ? Number(readFileSync(PID_FILE, "utf8")) : undefined
  const running = findAgentProcesses({
    dataDir: DATA_DIR,
    defaultDataDir: DATA_DIR,
    api: API.replace(/^http:\/\//, ""),
  })
  const pids = [...new Set([...(recorded === undefined ? [] : [recorded]), ...running])].filter(
    (pid) => exited(pid) === undefined,
  )
  if (recorded !== undefined && !pids.includes(recorded))
    say(`the agent recorded in ${PID_FILE} (pid ${recorded}) was not running`)
  for (const pid of pids) {
    process.kill(pid, "SIGTERM")
    say(`stopping the agent (pid ${pid})`)
    await until("the agent to exit", async () => exited(pid), 15_000)
  }
  rmSync(PID_FILE, { force: true })
  if (pids.length === 0 && !multihost) say(`no agent serving ${DATA_DIR} or ${API} was running`)
  say("done")
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { hosts: { type: "string" } },
})
const command = positionals[0] ?? "start"
if (
  (command !== "start" && command !== "stop") ||
  (command === "stop" && values.hosts !== undefined)
) {
  console.error("usage: tooling/run demo [--hosts N] | tooling/run demo stop")
  process.exit(2)
}
const main =
  command === "stop"
    ? stop
    : values.hosts === undefined
      ? start
      : () => {
          ensureSidecarImage()
          return startMultihost(Number(values.hosts))
        }
await main().catch((error: Error) => {
  console.error(`demo: ${error.message}`)
  process.exit(1)
})
