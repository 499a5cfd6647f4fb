/**
 * The demo (`tooling/run demo`): a running agent with two workloads on images built offline.
 * `web`'s app asks `orders` through its sidecar's upstream port and prints the answer; it also
 * tries to reach the agent directly, which its pod's egress rules block.
 *
 *   tooling/run demo          start (or reuse) the agent on 127.0.0.1:8080 and deploy the demo
 *   tooling/run demo stop     delete the demo workloads and stop the agent the demo started
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { buildDemoImages } from "./images"

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

const start = async () => {
  if (spawnSync("podman", ["image", "exists", SIDECAR_IMAGE]).status !== 0) {
    say(`building the sidecar image ${SIDECAR_IMAGE} (offline)`)
    const built = spawnSync("pnpm", ["--filter", "@beemesh/sidecar", "image"], { stdio: "inherit" })
    if (built.status !== 0) throw new Error("building the sidecar image failed")
  }
  say("building the demo images (busybox, offline)")
  buildDemoImages()
  if ((await healthy().catch(() => undefined)) === undefined) {
    mkdirSync(DATA_DIR, { recursive: true, mode: 0o700 })
    say(`starting the agent (logs: ${LOG_FILE})`)
    const log = openSync(LOG_FILE, "a")
    const agent = spawn(process.execPath, [BUNDLE, "run", "--data-dir", DATA_DIR], {
      detached: true,
      stdio: ["ignore", log, log],
    })
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

const stop = async () => {
  if ((await healthy().catch(() => undefined)) !== undefined) {
    for (const workload of ["web", "orders"]) {
      say(`deleting demo/${workload}`)
      await request("DELETE", `/v1/workloads/demo/${workload}`)
    }
  }
  if (existsSync(PID_FILE)) {
    const pid = Number(readFileSync(PID_FILE, "utf8"))
    try {
      process.kill(pid, "SIGTERM")
      say(`stopping the agent (pid ${pid})`)
      await until(
        "the agent to exit",
        async () => {
          try {
            process.kill(pid, 0)
            return undefined
          } catch {
            return true
          }
        },
        15_000,
      )
    } catch {
      say(`the agent (pid ${pid}) was not running`)
    }
    rmSync(PID_FILE, { force: true })
  } else {
    say("no agent started by the demo; leaving any other agent running")
  }
  say("done")
}

const command = process.argv[2] ?? "start"
if (command !== "start" && command !== "stop") {
  console.error("usage: tooling/run demo [stop]")
  process.exit(2)
}
await (command === "start" ? start() : stop()).catch((error: Error) => {
  console.error(`demo: ${error.message}`)
  process.exit(1)
})
