/**
 * The agent's state file end to end: a real agent process over real Podman pods, restarted with
 * its state file damaged or gone.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  AGENT_BUNDLE,
  type AgentProcess,
  api,
  freePort,
  podman,
  requirePrerequisites,
  run,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string
let apiPort: number
let agent: AgentProcess | undefined
let peerId: string | undefined

const manifest = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: ${ns}}, spec: {replicas: 2, selector: {matchLabels: {app: orders}}, template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80}]}]}}}}`

const ownedPods = () =>
  podman(
    "pod",
    "ls",
    "--filter",
    `label=io.beemesh.owner=${peerId}`,
    "--format",
    "{{.Name}} {{.ID}}",
  )
    .split("\n")
    .filter((line) => line !== "")
    .sort()

/** Runs the agent expected to stop by itself during start; SIGKILL after 60 s if it does not. */
const runToExit = (dataDir: string, apiPort: number) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        AGENT_BUNDLE,
        "run",
        "--data-dir",
        dataDir,
        "--api",
        `127.0.0.1:${apiPort}`,
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-state-"))
  apiPort = await freePort()
  agent = await startAgent(dataDir, apiPort)
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined)
    for (const line of ownedPods())
      run("podman", ["pod", "rm", "-f", "-t", "1", line.split(" ")[0]!])
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("beemesh-agent's state file", () => {
  it("a missing state file removes no running pod: they are kept as orphans until a DELETE", async () => {
    expect((await api(agent!, "POST", "/v1/workloads", manifest)).status).toBe(201)
    const before = ownedPods()
    expect(before).toHaveLength(2)
    expect(await agent!.stop()).toBe(0)
    await rm(join(dataDir, "workloads.json"))
    agent = await startAgent(dataDir, apiPort)
    expect(agent.logs()).toMatch(/keeping pod bm-\S+-orders-0 as an orphan: there is no state file/)
    // Several reconcile rounds: nothing is removed or recreated.
    await new Promise((resolve) => setTimeout(resolve, 5000))
    expect(ownedPods()).toEqual(before)
    const listed = await api(agent, "GET", "/v1/workloads")
    expect(listed.json?.workloads).toEqual([])
    expect(
      ((listed.json?.orphans ?? []) as Array<{ pod: string }>).map((o) => o.pod).sort(),
    ).toEqual([`bm-${ns}-orders-0`, `bm-${ns}-orders-1`])
    expect((await api(agent, "DELETE", `/v1/workloads/${ns}/orders`)).status).toBe(204)
    expect(ownedPods()).toEqual([])
  })

  it.each([
    ["empty", ""],
    ["{}", "{}"],
  ])(
    "a state file that is %s stops the agent at start with exit code 2, naming the file and the fix",
    async (_, content) => {
      const otherDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-state-"))
      try {
        const file = join(otherDir, "workloads.json")
        await writeFile(file, content)
        const { code, output } = await runToExit(otherDir, await freePort())
        expect(code).toBe(2)
        expect(output).toContain(`state file ${file} is unusable`)
        expect(output).toMatch(/fix: restore it from a backup, or move it away/)
      } finally {
        await rm(otherDir, { recursive: true, force: true })
      }
    },
  )
})
