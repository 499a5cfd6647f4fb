/**
 * Restarts end to end: a real agent process over real Podman pods. An app that exits 3 right after
 * printing a known line is restarted with the kubelet's back-off (at once, then after 10 s, then
 * 20 s), shows CrashLoopBackOff with its exit code and that line in its log tail (in the API and in
 * `beemesh describe`), while a healthy replica next to it keeps its pod.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  AGENT_DIR,
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  removePodsOwnedBy,
  requirePrerequisites,
  startAgent,
} from "./support"

const CLI = join(AGENT_DIR, "../cli/dist/beemesh.mjs")
const ns = `e2e-${randomBytes(3).toString("hex")}`
const MARKER = `crash-marker-${ns}`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const crashing = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: crashy, namespace: ${ns}}, spec: {replicas: 1, selector: {matchLabels: {app: crashy}}, template: {metadata: {labels: {app: crashy}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, command: [/bin/busybox, sh, -c, "echo starting; echo ${MARKER}; exit 3"]}]}}}}`
const steady = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: steady, namespace: ${ns}}, spec: {replicas: 1, selector: {matchLabels: {app: steady}}, template: {metadata: {labels: {app: steady}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80}]}]}}}}`

interface Event {
  readonly at: string
  readonly reason: string
  readonly message: string
}
interface Replica {
  readonly pod: string
  readonly phase: string
  readonly restarts: number
  readonly message?: string
  readonly restartAt?: string
  readonly lastTermination?: { container: string; exitCode: number; logTail: Array<string> }
  readonly events: Array<Event>
}

const replicaOf = async (workload: string) =>
  (
    ((await api(agent!, "GET", `/v1/workloads/${ns}/${workload}`)).json?.pods ??
      []) as Array<Replica>
  )[0]

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
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-restarts-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  // DELETE first: it waits for a pod being recreated, which a stopped agent could leave behind.
  for (const workload of ["crashy", "steady"])
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${workload}`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== undefined) await removePodsOwnedBy(peerId)
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("restarts with back-off", () => {
  it("a crash-looping app shows CrashLoopBackOff with exit code 3 and its last line; its restart gaps grow; a healthy replica next to it is untouched", async () => {
    expect((await api(agent!, "POST", "/v1/workloads", steady)).status).toBe(201)
    const steadyPod = `bm-${ns}-steady-0`
    const steadyId = podman("pod", "inspect", steadyPod, "--format", "{{.ID}}")
    expect((await api(agent!, "POST", "/v1/workloads", crashing)).status).toBe(201)

    // Every event seen while polling (a replica keeps only its ten most recent), and how long each
    // status request took while reconcile was recreating pods (measured, not asserted).
    const seen = new Map<string, Event>()
    const latencies: Array<number> = []
    let backingOff: Replica | undefined
    let described: string | undefined
    await eventually(
      "three restarts of crashy-0",
      async () => {
        const started = performance.now()
        const replica = await replicaOf("crashy")
        latencies.push(performance.now() - started)
        for (const e of replica?.events ?? []) seen.set(`${e.at} ${e.reason} ${e.message}`, e)
        if (replica?.phase === "CrashLoopBackOff" && backingOff === undefined) {
          backingOff = replica
          const out = await cli(["describe", "workload", `${ns}/crashy`])
          described = `${out.stdout}${out.stderr}`
        }
        return [...seen.values()].filter((e) => e.reason === "Restarted").length >= 3
          ? true
          : undefined
      },
      120_000,
    )

    // While it waited: CrashLoopBackOff, the exit code, the line it printed, when it comes back.
    expect(backingOff).toMatchObject({
      phase: "CrashLoopBackOff",
      lastTermination: { container: "app", exitCode: 3 },
    })
    expect(backingOff?.lastTermination?.logTail).toContain(MARKER)
    expect(backingOff?.message).toMatch(
      /^back-off 10s restarting failed replica: container \S+-crashy-0-app is exited with code 3/,
    )
    expect(backingOff?.restartAt).toBeDefined()
    expect(described).toContain("CrashLoopBackOff")
    expect(described).toContain("Last State: container app exited with code 3")
    expect(described).toContain(`| ${MARKER}`)

    // Each exit is followed by a restart; the wait between them grows: at once, 10 s, 20 s.
    const events = [...seen.values()].sort((a, b) => a.at.localeCompare(b.at))
    const gaps: Array<number> = []
    for (const [i, e] of events.entries()) {
      if (e.reason !== "Exited") continue
      expect(e.message).toMatch(/is exited with code 3$/)
      const restarted = events.slice(i + 1).find((x) => x.reason === "Restarted")
      if (restarted !== undefined) gaps.push(Date.parse(restarted.at) - Date.parse(e.at))
    }
    latencies.sort((a, b) => a - b)
    console.log(
      `restart gaps (ms): ${gaps.join(", ")}; GET /v1/workloads/…/crashy during the crash loop: ${latencies.length} requests, median ${latencies[latencies.length >> 1]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`,
    )
    expect(gaps.length).toBeGreaterThanOrEqual(3)
    expect(gaps[1]).toBeGreaterThanOrEqual(10_000)
    expect(gaps[2]).toBeGreaterThanOrEqual(20_000)
    expect(gaps[0]).toBeLessThan(gaps[1]!)
    expect(gaps[1]).toBeLessThan(gaps[2]!)
    expect(
      events.filter((e) => e.reason === "BackOff").map((e) => e.message.split(" ")[1]),
    ).toEqual(expect.arrayContaining(["10s", "20s"]))

    // The healthy replica kept its pod and never restarted.
    expect(podman("pod", "inspect", steadyPod, "--format", "{{.ID}}")).toBe(steadyId)
    expect(await replicaOf("steady")).toMatchObject({ phase: "Running", restarts: 0 })
  }, 180_000)
})
