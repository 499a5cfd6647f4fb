/**
 * Pod tokens end to end: a real agent process over real Podman pods. A StatefulSet replica's pod is
 * removed behind the agent's back and recreated under the same name: the token its first sidecar
 * held is refused, the new sidecar's works. After an agent restart the live replica's token still
 * works and its sidecar keeps renewing (its registration is checked against the host port read
 * back from Podman). Once the workload is deleted its token is refused too.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  removePod,
  removePodsOwnedBy,
  requirePrerequisites,
  run,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
const POD = `bm-${ns}-db-0`
let dataDir: string
let apiPort: number
let agent: AgentProcess | undefined
let peerId: string | undefined

const db = `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, namespace: ${ns}}, spec: {replicas: 1, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80}]}]}}}}`

interface Replica {
  readonly pod: string
  readonly phase: string
  readonly hostPort?: number
  readonly registered?: boolean
}

/** The token the agent gave the pod's sidecar (read as root from Podman, as no app can). */
const sidecarToken = () => {
  const env = JSON.parse(
    podman("container", "inspect", `${POD}-sidecar`, "--format", "{{json .Config.Env}}"),
  ) as Array<string>
  const entry = env.find((e) => e.startsWith("BEEMESH_POD_TOKEN="))
  if (entry === undefined) throw new Error(`${POD}-sidecar has no BEEMESH_POD_TOKEN`)
  return entry.slice("BEEMESH_POD_TOKEN=".length)
}

const podId = () => podman("pod", "inspect", POD, "--format", "{{.ID}}")
const existingPodId = () => {
  const inspect = run("podman", ["pod", "inspect", POD, "--format", "{{.ID}}"])
  return inspect.status === 0 ? inspect.stdout.trim() : undefined
}

/** Resolves a service of the namespace with a pod token: the smallest request a pod token allows. */
const resolveWith = (token: string) => api(agent!, "GET", `/v1/services/${ns}/db`, undefined, token)

const replica = async () =>
  (
    (await api(agent!, "GET", `/v1/workloads/${ns}/db`)).json?.pods as Array<Replica> | undefined
  )?.[0]

/** Until the replica runs and its sidecar registered (its token and addresses were accepted). */
const registered = (what: string) =>
  eventually(what, async () => {
    const r = await replica()
    return r?.phase === "Running" && r.registered === true ? r : undefined
  })

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-tokens-"))
  apiPort = await freePort()
  agent = await startAgent(dataDir, apiPort)
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  if (agent !== undefined)
    await api(agent, "DELETE", `/v1/workloads/${ns}/db`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== undefined) await removePodsOwnedBy(peerId)
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("pod tokens bound to a live replica and its generation", () => {
  let first: string

  it("a replica's sidecar registers with its token", async () => {
    expect((await api(agent!, "POST", "/v1/workloads", db)).status).toBe(201)
    await registered("db-0 to register")
    first = sidecarToken()
    expect((await resolveWith(first)).status).toBe(200)
  })

  it("a recreated pod of the same name: the old token is refused, the new sidecar's works", async () => {
    const before = podId()
    await removePod(POD)
    await eventually(
      "db-0 recreated under the same name",
      async () => {
        const id = existingPodId()
        const r = await replica()
        return id !== undefined && id !== before && r?.phase === "Running" && r.registered === true
          ? true
          : undefined
      },
      90_000,
    )
    const second = sidecarToken()
    expect(second).not.toBe(first)
    const refused = await resolveWith(first)
    expect(refused.status).toBe(401)
    expect(refused.json?.error).toBe("PodTokenRevoked")
    expect(String(refused.json?.message)).toMatch(/since deleted or recreated under the same name/)
    // Not even to withdraw the new pod's services.
    const withdraw = await api(agent!, "DELETE", `/v1/pods/db-0/services`, undefined, first)
    expect(withdraw.status).toBe(401)
    expect((await replica())?.registered).toBe(true)
    expect((await resolveWith(second)).status).toBe(200)
    first = second
  })

  it("after an agent restart the live replica's token still works and its sidecar renews", async () => {
    const before = podId()
    expect(await agent!.stop()).toBe(0)
    agent = await startAgent(dataDir, apiPort)
    expect(podId()).toBe(before)
    expect((await resolveWith(first)).status).toBe(200)
    // Registered again by a renewal the restarted agent accepted (token and published address).
    const adopted = await registered("db-0's sidecar to renew with the restarted agent")
    expect(adopted.hostPort).toBeGreaterThan(0)
  })

  it("once the workload is deleted, its token is refused", async () => {
    expect((await api(agent!, "DELETE", `/v1/workloads/${ns}/db`)).status).toBe(204)
    const refused = await resolveWith(first)
    expect(refused.status).toBe(401)
    expect(String(refused.json?.message)).toMatch(/which this agent does not run/)
  })
})
