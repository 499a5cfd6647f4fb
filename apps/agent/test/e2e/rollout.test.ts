/**
 * Updates end to end: a real agent over real Podman pods and sidecars. A web Pod asks orders
 * through its sidecar's upstream port (a libp2p stream to an orders sidecar) throughout: a new
 * version that cannot come up leaves the old replicas answering; a rebuilt image rolls; a
 * StatefulSet updates its highest ordinal first.
 */
import { spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { build, WEB_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  appExec,
  eventually,
  freePort,
  podman,
  removePodsOwnedBy,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
const IMAGE = `localhost/beemesh-test/rollout-${ns}:1`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined
const imageIds: Array<string> = []

/** The orders app answering with `version`; rebuilt under the same tag for a new version. */
const buildOrders = (version: string) => {
  build(
    IMAGE,
    {
      "bin/busybox": { copyFrom: "/bin/busybox", mode: 0o755 },
      "www/cgi-bin/orders": {
        content: `#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho "orders ${version} from $(/bin/busybox hostname)"\n`,
        mode: 0o755,
      },
    },
    `FROM scratch
LABEL io.beemesh.test=1
COPY bin/busybox /bin/busybox
COPY www/ /www/
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:80", "-u", "101:101", "-h", "/www"]
`,
  )
  imageIds.push(podman("image", "inspect", IMAGE, "--format", "{{.Id}}"))
}

const orders = (options: { command?: string; image?: string } = {}) =>
  `{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: ${ns}}, spec: {replicas: 2, progressDeadlineSeconds: 20, selector: {matchLabels: {app: orders}}, template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: app, image: ${options.image ?? IMAGE}, ${options.command === undefined ? "" : `command: ${options.command}, `}ports: [{containerPort: 80}]}]}}}}`
const web = `{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: ${ns}, annotations: {beemesh.io/upstreams: "orders=9001"}}, spec: {containers: [{name: app, image: ${WEB_IMAGE}, env: [{name: WEB_INTERVAL, value: "60"}]}]}}`
const db = `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: ${ns}}, spec: {replicas: 2, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: app, image: ${IMAGE}, ports: [{containerPort: 80}]}]}}}}`

interface Status {
  readonly revision: string
  readonly updated: number
  readonly conditions: ReadonlyArray<{
    type: string
    status: string
    reason: string
    message: string
  }>
  readonly pods: ReadonlyArray<{ name: string; pod: string; revision: string; registered: boolean }>
}
const status = async (name: string) =>
  (await api(agent!, "GET", `/v1/workloads/${ns}/${name}`)).json as unknown as Status
const progressing = (s: Status) => s.conditions.find((c) => c.type === "Progressing")

/** Orders' answer to the web app, through its sidecar and the mesh. */
const ask = async () => {
  const result = await appExec(`bm-${ns}-web-app`, [
    "/bin/busybox",
    "timeout",
    "4",
    "/bin/busybox",
    "wget",
    "-q",
    "-O",
    "-",
    "http://127.0.0.1:9001/cgi-bin/orders",
  ])
  return result.status === 0 ? result.stdout.trim() : `no answer: ${result.stderr.trim()}`
}

/** Pod name → Podman ID of this test's pods of `workload`. */
const podIds = (workload: string) =>
  new Map(
    podman(
      "pod",
      "ls",
      "--filter",
      `label=io.beemesh.owner=${peerId}`,
      "--filter",
      `label=io.beemesh.workload=${workload}`,
      "--format",
      "{{.Name}} {{.ID}}",
    )
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => line.split(" ") as [string, string]),
  )

/** Asks orders until `done` holds, requiring every answer to match `answer`; returns how many. */
const askUntil = async (
  what: string,
  answer: RegExp,
  done: () => Promise<boolean>,
  timeoutMs = 90_000,
) => {
  const deadline = Date.now() + timeoutMs
  let asked = 0
  for (;;) {
    expect(await ask()).toMatch(answer)
    asked++
    if (await done()) return asked
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

beforeAll(async () => {
  requirePrerequisites()
  buildOrders("v1")
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-rollout-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  expect((await api(agent, "POST", "/v1/workloads", [orders(), web].join("\n---\n"))).status).toBe(
    201,
  )
  await eventually("web reaching orders v1 through the mesh", async () =>
    /orders v1 from/.test(await ask()) ? true : undefined,
  )
}, 180_000)

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) {
    await removePodsOwnedBy(peerId)
  }
  spawnSync("podman", ["rmi", "-f", ...new Set(imageIds)], { stdio: "ignore" })
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("beemesh-agent updates", () => {
  it("a new version that crashes at start: the old replicas answer throughout, and the status says why", async () => {
    const before = podIds("orders")
    const response = await api(
      agent!,
      "POST",
      "/v1/workloads",
      orders({ command: '["/bin/busybox", "false"]' }),
    )
    expect(response.status).toBeLessThan(300)
    const asked = await askUntil(
      "Progressing=False",
      /^orders v1 from bm-/,
      async () => progressing(await status("orders"))?.status === "False",
    )
    expect(asked).toBeGreaterThan(5)
    const condition = progressing(await status("orders"))
    expect(condition).toMatchObject({ reason: "ProgressDeadlineExceeded" })
    expect(condition?.message).toMatch(
      /made no progress for 20s: replica orders-2: .*; 2 replicas of the previous revision keep serving/,
    )
    // After the deadline too: the same old pods, never recreated, still answering.
    for (let n = 0; n < 5; n++) expect(await ask()).toMatch(/^orders v1 from bm-/)
    const after = podIds("orders")
    expect(after.get(`bm-${ns}-orders-0`)).toBe(before.get(`bm-${ns}-orders-0`))
    expect(after.get(`bm-${ns}-orders-1`)).toBe(before.get(`bm-${ns}-orders-1`))
  }, 180_000)

  it("a new version whose image is missing is refused whole: nothing changes, the old replicas answer", async () => {
    const before = podIds("orders")
    const response = await api(
      agent!,
      "POST",
      "/v1/workloads",
      orders({ image: "localhost/no-such-image:1" }),
    )
    expect(response.status).toBe(422)
    expect(String(response.json?.message)).toMatch(
      /image localhost\/no-such-image:1 is not in this host's image store/,
    )
    expect(podIds("orders")).toEqual(before)
    expect(await ask()).toMatch(/^orders v1 from bm-/)
  })

  it("the same image again does not roll; the tag rebuilt rolls to it while orders keeps answering", async () => {
    // Back to the working manifest: the crashing replica goes, the old ones stay as they are.
    const before = podIds("orders")
    expect((await api(agent!, "POST", "/v1/workloads", orders())).status).toBeLessThan(300)
    await askUntil("the failed update undone", /^orders v1 from bm-/, async () => {
      const s = await status("orders")
      return (
        s.updated === 2 && s.pods.length === 2 && progressing(s)?.reason === "ReplicasAvailable"
      )
    })
    const kept = podIds("orders")
    expect(kept.get(`bm-${ns}-orders-0`)).toBe(before.get(`bm-${ns}-orders-0`))
    expect(kept.get(`bm-${ns}-orders-1`)).toBe(before.get(`bm-${ns}-orders-1`))
    expect(kept.size).toBe(2)

    buildOrders("v2")
    const { revision } = await status("orders")
    expect((await api(agent!, "POST", "/v1/workloads", orders())).status).toBeLessThan(300)
    expect((await status("orders")).revision).not.toBe(revision)
    await askUntil("orders v2 everywhere", /^orders v[12] from bm-/, async () => {
      const s = await status("orders")
      return (
        s.updated === 2 && s.pods.length === 2 && progressing(s)?.reason === "ReplicasAvailable"
      )
    })
    const rolled = podIds("orders")
    expect([...rolled.values()].some((id) => [...kept.values()].includes(id))).toBe(false)
    for (let n = 0; n < 4; n++) expect(await ask()).toMatch(/^orders v2 from bm-/)
  }, 180_000)

  it("a StatefulSet updates its highest ordinal first, one at a time", async () => {
    expect((await api(agent!, "POST", "/v1/workloads", db)).status).toBe(201)
    await eventually("db ready", async () => {
      const s = await status("db")
      return s.pods.length === 2 && s.pods.every((p) => p.registered) ? s : undefined
    })
    buildOrders("v3")
    expect((await api(agent!, "POST", "/v1/workloads", db)).status).toBeLessThan(300)
    // Which replicas run the new revision, in the order they got it.
    const order: Array<string> = []
    const deadline = Date.now() + 90_000
    for (;;) {
      const s = await status("db")
      for (const p of s.pods)
        if (p.revision === s.revision && !order.includes(p.name)) order.push(p.name)
      // One at a time: at most one replica is away.
      expect(s.pods.filter((p) => !p.registered).length).toBeLessThanOrEqual(1)
      if (s.updated === 2 && s.pods.every((p) => p.registered)) break
      if (Date.now() > deadline)
        throw new Error(`db not updated in time: ${JSON.stringify(s.pods)}`)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(order).toEqual(["db-1", "db-0"])
  }, 180_000)
})
