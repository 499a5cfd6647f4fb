/**
 * Readiness probes end to end: a real agent over real Podman pods and sidecars. Two orders
 * replicas answer `/cgi-bin/orders` and are ready only while their `/ready` file exists (an
 * httpGet probe run by each pod's sidecar); a web Pod asks orders through its sidecar's upstream
 * port. A replica that is not ready gets no traffic; one that becomes ready gets it; one whose
 * probe fails is withdrawn.
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
const IMAGE = `localhost/beemesh-test/probes-${ns}:1`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const orders = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: ${ns}}, spec: {replicas: 2, selector: {matchLabels: {app: orders}}, template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: app, image: ${IMAGE}, ports: [{containerPort: 80, name: http}], readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1, failureThreshold: 2}}]}}}}`
const web = `{apiVersion: v1, kind: Pod, metadata: {name: web, namespace: ${ns}, annotations: {beemesh.io/upstreams: "orders=9001"}}, spec: {containers: [{name: app, image: ${WEB_IMAGE}, env: [{name: WEB_INTERVAL, value: "60"}]}]}}`

interface Status {
  readonly available: number
  readonly pods: ReadonlyArray<{ name: string; registered: boolean; message?: string }>
}
const status = async () =>
  (await api(agent!, "GET", `/v1/workloads/${ns}/orders`)).json as unknown as Status

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

/** Makes a replica's readiness endpoint answer 200 (present) or 404 (absent). */
const setReady = async (replica: string, ready: boolean) => {
  const args = ready
    ? ["/bin/busybox", "touch", "/www/ready"]
    : ["/bin/busybox", "rm", "-f", "/www/ready"]
  expect((await appExec(`bm-${ns}-${replica}-app`, args)).status).toBe(0)
}

/** Which replicas answered `n` questions in a row. */
const answeredBy = async (n: number) => {
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const answer = await ask()
    const from = /^orders from bm-[^-]+-[^-]+-(orders-\d)$/.exec(answer)?.[1]
    seen.add(from ?? answer)
  }
  return [...seen].sort()
}

beforeAll(async () => {
  requirePrerequisites()
  build(
    IMAGE,
    {
      "bin/busybox": { copyFrom: "/bin/busybox", mode: 0o755 },
      "www/cgi-bin/orders": {
        content:
          '#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho "orders from $(/bin/busybox hostname)"\n',
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
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-probes-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  expect((await api(agent, "POST", "/v1/workloads", [orders, web].join("\n---\n"))).status).toBe(
    201,
  )
  await eventually("both orders replicas running", async () => {
    const s = await status()
    return s.pods.length === 2 ? s : undefined
  })
}, 180_000)

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) {
    await removePodsOwnedBy(peerId)
  }
  spawnSync("podman", ["rmi", "-f", IMAGE], { stdio: "ignore" })
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("readiness probes", () => {
  it("replicas whose probe has not passed get no traffic, and the status says why", async () => {
    // Long enough for several probe periods: still nobody registered.
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    const s = await status()
    expect(s.available).toBe(0)
    expect(s.pods.every((p) => !p.registered)).toBe(true)
    expect(s.pods[0]?.message).toMatch(/readiness probe has not passed/)
    expect(await ask()).toMatch(/^no answer/)
  }, 60_000)

  it("a client through the mesh reaches only the ready replica, then both once both are ready", async () => {
    await setReady("orders-0", true)
    await eventually("orders-0 registered", async () =>
      (await status()).pods.find((p) => p.name === "orders-0")?.registered ? true : undefined,
    )
    expect(await answeredBy(8)).toEqual(["orders-0"])
    expect((await status()).available).toBe(1)

    await setReady("orders-1", true)
    await eventually("orders-1 answering too", async () =>
      (await answeredBy(4)).includes("orders-1") ? true : undefined,
    )
    expect((await status()).available).toBe(2)
  }, 120_000)

  it("a replica whose probe fails is withdrawn: the other one takes all the traffic", async () => {
    await setReady("orders-0", false)
    await eventually("orders-0 withdrawn", async () =>
      (await status()).pods.find((p) => p.name === "orders-0")?.registered === false
        ? true
        : undefined,
    )
    await eventually("only orders-1 answering", async () =>
      (await answeredBy(6)).join() === "orders-1" ? true : undefined,
    )
    expect(await answeredBy(8)).toEqual(["orders-1"])
    expect((await status()).available).toBe(1)
  }, 120_000)
})
