/**
 * Liveness, startup and exec probes end to end: a real agent over real Podman pods and sidecars.
 * - `doomed`: its liveness probe (httpGet /alive) never passes: the container is stopped and the
 *   replica restarted, again and again (with the back-off), and its events say why.
 * - `late`: its app only answers /alive after ~12 s; a startupProbe holds the (strict) liveness
 *   probe off until then, so it is never restarted.
 * - `orders`: ready only while /tmp/ready exists in its app container (an exec probe the agent
 *   runs for the sidecar); a client through the mesh gets answers only once the file exists.
 * - `sick`: its app writes /tmp/healthy at start and deletes it 4 s later; an exec liveness probe
 *   (`cat /tmp/healthy`) then fails and the container is restarted, again and again.
 * - `well`: the same exec liveness probe on a file that stays: it is never restarted.
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
  removePodsOwnedBy,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
const IMAGE = `localhost/beemesh-test/liveness-${ns}:1`
const HTTPD = ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:80", "-u", "101:101", "-h", "/www"]
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const doomed = `{apiVersion: v1, kind: Pod, metadata: {name: doomed, namespace: ${ns}}, spec: {containers: [{name: app, image: ${IMAGE}, ports: [{containerPort: 80, name: http}], livenessProbe: {httpGet: {path: /alive, port: http}, periodSeconds: 1, failureThreshold: 2}}]}}`
const lateCommand = JSON.stringify([
  "/bin/busybox",
  "sh",
  "-c",
  `(/bin/busybox sleep 12; /bin/busybox touch /www/alive) & exec ${HTTPD.join(" ")}`,
])
const late = `{apiVersion: v1, kind: Pod, metadata: {name: late, namespace: ${ns}}, spec: {containers: [{name: app, image: ${IMAGE}, command: ${lateCommand}, ports: [{containerPort: 80}], startupProbe: {httpGet: {path: /alive, port: 80}, periodSeconds: 1, failureThreshold: 60}, livenessProbe: {httpGet: {path: /alive, port: 80}, periodSeconds: 1, failureThreshold: 1}}]}}`
const orders = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: ${ns}}, spec: {replicas: 1, selector: {matchLabels: {app: orders}}, template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: app, image: ${IMAGE}, ports: [{containerPort: 80}], readinessProbe: {exec: {command: [/bin/busybox, test, -f, /tmp/ready]}, periodSeconds: 1}}]}}}}`
// Each start writes /tmp/healthy afresh, so a restart passes the probe again until the file goes.
const sickCommand = JSON.stringify([
  "/bin/busybox",
  "sh",
  "-c",
  `/bin/busybox touch /tmp/healthy; (/bin/busybox sleep 4; /bin/busybox rm -f /tmp/healthy) & exec ${HTTPD.join(" ")}`,
])
const wellCommand = JSON.stringify([
  "/bin/busybox",
  "sh",
  "-c",
  `/bin/busybox touch /tmp/healthy; exec ${HTTPD.join(" ")}`,
])
const execLiveness =
  "{exec: {command: [/bin/busybox, cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}"
const sick = `{apiVersion: v1, kind: Pod, metadata: {name: sick, namespace: ${ns}}, spec: {containers: [{name: app, image: ${IMAGE}, command: ${sickCommand}, ports: [{containerPort: 80}], livenessProbe: ${execLiveness}}]}}`
const well = `{apiVersion: v1, kind: Pod, metadata: {name: well, namespace: ${ns}}, spec: {containers: [{name: app, image: ${IMAGE}, command: ${wellCommand}, ports: [{containerPort: 80}], livenessProbe: ${execLiveness}}]}}`
const web = `{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: ${ns}, annotations: {beemesh.io/upstreams: "orders=9001"}}, spec: {containers: [{name: app, image: ${WEB_IMAGE}, env: [{name: WEB_INTERVAL, value: "60"}]}]}}`

interface Replica {
  readonly name: string
  readonly phase: string
  readonly restarts: number
  readonly registered: boolean
  readonly message?: string
  readonly events: ReadonlyArray<{ reason: string; message: string }>
}
const replicaOf = async (workload: string) =>
  (
    (await api(agent!, "GET", `/v1/workloads/${ns}/${workload}`)).json as unknown as {
      pods: ReadonlyArray<Replica>
    }
  ).pods[0]

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

beforeAll(async () => {
  requirePrerequisites()
  build(
    IMAGE,
    {
      "bin/busybox": { copyFrom: "/bin/busybox", mode: 0o755 },
      "tmp/.keep": { content: "" },
      "www/cgi-bin/orders": {
        content:
          '#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho "orders from $(/bin/busybox hostname)"\n',
        mode: 0o755,
      },
    },
    `FROM scratch
LABEL io.beemesh.test=1
COPY bin/busybox /bin/busybox
COPY tmp/ /tmp/
COPY www/ /www/
ENTRYPOINT ${JSON.stringify(HTTPD)}
`,
  )
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-liveness-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  const applied = await api(
    agent,
    "POST",
    "/v1/workloads",
    [doomed, late, orders, web, sick, well].join("\n---\n"),
  )
  expect(applied.status).toBe(201)
}, 180_000)

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) {
    await removePodsOwnedBy(peerId)
  }
  spawnSync("podman", ["rmi", "-f", IMAGE], { stdio: "ignore" })
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("liveness, startup and exec probes", () => {
  it("an exec readiness probe gates traffic: answers through the mesh only once /tmp/ready exists", async () => {
    // Several probe periods after the replica runs: still not registered, and no answer.
    await eventually("orders running", async () =>
      (await replicaOf("orders"))?.phase === "Running" ? true : undefined,
    )
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const before = await replicaOf("orders")
    expect(before?.registered).toBe(false)
    expect(await ask()).toMatch(/^no answer/)

    const touched = await appExec(`bm-${ns}-orders-0-app`, ["/bin/busybox", "touch", "/tmp/ready"])
    expect(touched.status).toBe(0)
    await eventually("orders registered", async () =>
      (await replicaOf("orders"))?.registered ? true : undefined,
    )
    await eventually(
      "orders answering through the mesh",
      async () => ((await ask()).startsWith("orders from") ? true : undefined),
      30_000,
    )
  }, 120_000)

  it("a failing liveness probe restarts the container again and again, with Unhealthy and Killing events", async () => {
    const notFound = /^Liveness probe failed: httpGet http:\/\/127\.0\.0\.1:80\/alive: HTTP 404/
    const unhealthyOf = (r: {
      readonly events: ReadonlyArray<{ reason: string; message: string }>
    }) => r.events.filter((e) => e.reason === "Unhealthy").map((e) => e.message)
    const twice = await eventually(
      "doomed restarted twice, for its 404",
      async () => {
        const r = await replicaOf("doomed")
        return r !== undefined && r.restarts >= 2 && unhealthyOf(r).some((m) => notFound.test(m))
          ? r
          : undefined
      },
      120_000,
    )
    // A probe that comes before httpd listens (a loaded machine) fails as refused: also a failure.
    for (const message of unhealthyOf(twice)) {
      expect(message).toMatch(
        /^Liveness probe failed: httpGet http:\/\/127\.0\.0\.1:80\/alive: (HTTP 404|connection refused)/,
      )
    }
    expect(twice.events.find((e) => e.reason === "Killing")?.message).toBe(
      "Container app failed liveness probe, will be restarted",
    )
    expect(twice.events.some((e) => e.reason === "Restarted")).toBe(true)
  }, 180_000)

  it("a startup probe that passes late holds the liveness probe off: never restarted, then ready", async () => {
    // By now (well past the 12 s the app takes) a liveness probe run without the hold would
    // have restarted it many times over (failureThreshold 1, every second).
    const ready = await eventually(
      "late registered",
      async () => {
        const r = await replicaOf("late")
        return r?.registered ? r : undefined
      },
      90_000,
    )
    expect(ready.restarts).toBe(0)
    expect(ready.events.map((e) => e.reason)).not.toContain("Killing")
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    expect((await replicaOf("late"))?.restarts).toBe(0)
  }, 120_000)

  it("a failing exec liveness probe restarts the container, with Unhealthy and Killing events", async () => {
    const restarted = await eventually(
      "sick restarted twice",
      async () => {
        const r = await replicaOf("sick")
        return r !== undefined && r.restarts >= 2 ? r : undefined
      },
      150_000,
    )
    // Only the probe's: the reconciler waits for a container being killed to exit.
    const unhealthy = restarted.events.filter((e) => e.reason === "Unhealthy")
    expect(unhealthy.length).toBeGreaterThan(0)
    for (const { message } of unhealthy)
      expect(message).toMatch(
        /^Liveness probe failed: exec \[\/bin\/busybox cat \/tmp\/healthy\]: .*exited with code 1: cat: can't open '\/tmp\/healthy'/,
      )
    expect(restarted.events.find((e) => e.reason === "Killing")?.message).toBe(
      "Container app failed liveness probe, will be restarted",
    )
  }, 180_000)

  it("a passing exec liveness probe leaves the container alone", async () => {
    const running = await eventually("well running", async () => {
      const r = await replicaOf("well")
      return r?.phase === "Running" ? r : undefined
    })
    // Well past the time `sick` took to be restarted twice (probes every second, threshold 2).
    await new Promise((resolve) => setTimeout(resolve, 8_000))
    const later = await replicaOf("well")
    expect(later?.restarts).toBe(0)
    expect(later?.events.map((e) => e.reason)).not.toContain("Unhealthy")
    expect(later?.events.map((e) => e.reason)).not.toContain("Killing")
    expect(running.restarts).toBe(0)
  }, 60_000)
})
