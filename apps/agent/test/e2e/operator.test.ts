/**
 * The operator's tools end to end: the `beemesh` CLI (its built binary, as a separate process)
 * against a real agent running real pods, with its own context file.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import {
  AGENT_DIR,
  type AgentProcess,
  eventually,
  freePort,
  requirePrerequisites,
  startAgent,
} from "./support"

const CLI = join(AGENT_DIR, "../cli/dist/beemesh.mjs")
const ns = `op-${randomBytes(3).toString("hex")}`
let dataDir: string
let configHome: string
let manifests: string
let agent: AgentProcess

const ordersManifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 2
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`
const webManifest = (apiPort: number) => `{"apiVersion":"v1","kind":"Pod",
 "metadata":{"name":"web","namespace":"${ns}","annotations":{"beemesh.io/upstreams":"orders=9001"}},
 "spec":{"containers":[{"name":"app","image":"${WEB_IMAGE}","env":[{"name":"AGENT_PORT","value":"${apiPort}"}]}]}}`

/** Runs the CLI binary with its own context file (XDG_CONFIG_HOME) and no BEEMESH_* from outside. */
const cli = (args: ReadonlyArray<string>, input?: string) =>
  new Promise<{ status: number; stdout: string; stderr: string }>((resolve, reject) => {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: configHome,
      XDG_CONFIG_HOME: configHome,
    }
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c) => (stdout += c))
    child.stderr.on("data", (c) => (stderr += c))
    child.once("error", reject)
    const timer = setTimeout(() => child.kill("SIGKILL"), 150_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ status: code ?? -1, stdout, stderr })
    })
    child.stdin.end(input ?? "")
  })

beforeAll(async () => {
  requirePrerequisites()
  if (!existsSync(CLI)) throw new Error(`${CLI} missing (pnpm --filter @beemesh/cli build)`)
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-operator-"))
  configHome = await mkdtemp(join(tmpdir(), "beemesh-e2e-cli-"))
  manifests = join(configHome, "manifests")
  const apiPort = await freePort()
  agent = await startAgent(dataDir, apiPort, undefined, ["--log-format", "json"])
  await mkdir(manifests)
  await writeFile(join(manifests, "orders.yaml"), ordersManifest)
  await writeFile(join(manifests, "web.json"), webManifest(apiPort))
})

afterAll(async () => {
  for (const workload of ["web", "orders"]) {
    await fetch(`${agent?.url}/v1/workloads/${ns}/${workload}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${agent?.token}` },
    }).catch(() => undefined)
  }
  await agent?.stop()
  for (const dir of [dataDir, configHome])
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe("the agent as a host service", () => {
  it("with --log-format json every log line is one JSON object with a level and a message", () => {
    const lines = agent
      .logs()
      .split("\n")
      .filter((line) => line.trim() !== "")
    expect(lines.length).toBeGreaterThan(2)
    const events = lines.map((line) => JSON.parse(line) as { message: unknown; level: unknown })
    for (const event of events) expect(event).toMatchObject({ level: expect.any(String) })
    expect(events.map((e) => String(e.message))).toContainEqual(
      expect.stringContaining("HTTP API on http://127.0.0.1:"),
    )
    expect(agent.logs()).not.toContain("\u001b[")
  })
})

describe("the beemesh CLI against a real agent", () => {
  it("every command has --help", async () => {
    for (const command of ["apply", "get", "describe", "delete", "logs", "context"]) {
      const help = await cli([command, "--help"])
      expect(help.status, command).toBe(0)
      expect(help.stdout).toContain(`beemesh ${command}`)
    }
    expect((await cli(["--help"])).stdout).toContain("Commands:")
  })

  it("an agent that does not answer: the error names the URL and how to start one", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`
    const result = await cli(["get", "workloads", "--server", closed, "--token", "x"])
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`cannot reach the agent at ${closed} (--server): ECONNREFUSED`)
    expect(result.stderr).toContain("beemesh-agent run")
  })

  it("context set stores URL and token in a 0600 file; a wrong token is named by its origin", async () => {
    const set = await cli([
      "context",
      "set",
      "e2e",
      "--server",
      agent.url,
      "--token-file",
      join(dataDir, "operator-token"),
    ])
    expect(set.status, set.stderr).toBe(0)
    const file = join(configHome, "beemesh", "config.yaml")
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const shown = await cli(["context", "show"])
    expect(shown.stdout).toMatch(new RegExp(`\\*\\s+e2e\\s+${agent.url.replace(/[.]/g, "\\.")}`))
    expect(shown.stdout).not.toContain(agent.token)
    const refused = await cli(["get", "workloads", "--token", "not-the-token"])
    expect(refused.status).toBe(1)
    expect(refused.stderr).toContain(`the agent at ${agent.url} refused the token from --token`)
  })

  it("apply -f of a directory shows the rollout until every replica is ready", async () => {
    const applied = await cli(["apply", "-f", manifests, "--timeout", "120"])
    expect(applied.status, applied.stderr).toBe(0)
    expect(applied.stdout).toContain(`deployment ${ns}/orders applied`)
    expect(applied.stdout).toContain(`pod ${ns}/web applied`)
    expect(applied.stdout).toMatch(new RegExp(`${ns}/orders: 2/2 ready`))
    expect(applied.stdout).toMatch(new RegExp(`${ns}/web: 1/1 ready`))
  })

  it("apply of an update that cannot come up fails with the agent's reason; applying the previous one ends it", async () => {
    const crashing = ordersManifest
      .replace("replicas: 2", "replicas: 2\n  progressDeadlineSeconds: 8")
      .replace("ports:", 'command: ["/bin/busybox", "false"], ports:')
    const stuck = await cli(["apply", "-f", "-", "--timeout", "120"], crashing)
    expect(stuck.status, stuck.stdout).toBe(1)
    expect(stuck.stderr).toMatch(
      new RegExp(`${ns}/orders: ProgressDeadlineExceeded: .*replica orders-2: `),
    )
    const back = await cli(["apply", "-f", "-", "--timeout", "120"], ordersManifest)
    expect(back.status, back.stderr).toBe(0)
    expect(back.stdout).toMatch(new RegExp(`${ns}/orders: 2/2 ready`))
  })

  it("get lists workloads, pods, services and peers as tables, JSON and YAML", async () => {
    const table = await cli(["get", "workloads", "-n", ns])
    expect(table.stdout).toMatch(/^NAMESPACE\s+NAME\s+KIND\s+READY\s+SERVICES$/m)
    expect(table.stdout).toMatch(
      new RegExp(`^${ns}\\s+orders\\s+Deployment\\s+2/2\\s+orders:80$`, "m"),
    )
    const json = JSON.parse((await cli(["get", "workloads", "-n", ns, "-o", "json"])).stdout) as {
      workloads: Array<{ name: string; ready: number }>
    }
    expect(json.workloads.map((w) => `${w.name}=${w.ready}`).sort()).toEqual(["orders=2", "web=1"])
    expect((await cli(["get", "pods", "-n", ns, "-o", "yaml"])).stdout).toContain(
      `pod: bm-${ns}-orders-1`,
    )
    const pods = await cli(["get", "pods", "-n", ns])
    expect(pods.stdout).toMatch(new RegExp(`bm-${ns}-web\\s+Running`))
    const services = await eventually("both orders providers in `get services`", async () => {
      const out = (await cli(["get", "services", "-n", ns])).stdout
      return new RegExp(`^${ns}\\s+orders\\s+orders:80\\s+2\\s`, "m").test(out) ? out : undefined
    })
    expect(services).toContain("orders-0")
    const peers = await cli(["get", "peers"])
    expect(peers.status, peers.stderr).toBe(0)
    expect(peers.stdout).toMatch(/DHT routing table: \d+ peers/)
  })

  it("describe shows a workload's replicas and its events section", async () => {
    const described = await cli(["describe", "workload", `${ns}/orders`])
    expect(described.status, described.stderr).toBe(0)
    expect(described.stdout).toContain("Replicas:   2/2 ready")
    expect(described.stdout).toContain(`bm-${ns}-orders-0`)
    expect(described.stdout).toContain("Events:")
    const missing = await cli(["describe", "workload", "nope", "-n", ns])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain(`workload ${ns}/nope does not exist`)
  })

  it("logs reads an app's output through Podman's logs API; -f keeps printing new lines", async () => {
    const pod = `bm-${ns}-web`
    const logs = await eventually("web's app to log an answer", async () => {
      const out = await cli(["logs", pod])
      return out.stdout.includes("web: orders said: orders: 3 open orders") ? out : undefined
    })
    expect(logs.status).toBe(0)
    const sidecar = await cli(["logs", pod, "-c", "sidecar", "--tail", "50"])
    expect(sidecar.status, sidecar.stderr).toBe(0)
    expect(sidecar.stdout).toContain("registered with the agent")

    const follower = spawn(process.execPath, [CLI, "logs", pod, "-f", "--tail", "0"], {
      env: { PATH: process.env.PATH ?? "", XDG_CONFIG_HOME: configHome, HOME: configHome },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let followed = ""
    follower.stdout.on("data", (c) => (followed += c))
    try {
      // web prints a line every 3 s: two new ones arrive while following.
      await eventually(
        "two new lines from logs -f",
        () => ((followed.match(/web: orders said/g)?.length ?? 0) >= 2 ? true : undefined),
        20_000,
      )
      expect(follower.exitCode).toBeNull()
    } finally {
      follower.kill("SIGINT")
    }
    const unknown = await cli(["logs", pod, "-c", "db"])
    expect(unknown.stderr).toContain(`pod ${pod} has no container "db"; its containers:`)
  })

  it("delete -f removes what apply -f created", async () => {
    const deleted = await cli(["delete", "-f", manifests])
    expect(deleted.status, deleted.stderr).toBe(0)
    expect(deleted.stdout).toContain(`workload ${ns}/orders deleted`)
    const left = JSON.parse((await cli(["get", "workloads", "-n", ns, "-o", "json"])).stdout) as {
      workloads: Array<unknown>
    }
    expect(left.workloads).toEqual([])
  })
})
