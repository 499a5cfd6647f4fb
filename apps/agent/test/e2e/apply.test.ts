/**
 * Apply as one transaction, and pod names unique across kinds and namespaces, end to end: a real
 * agent process over real Podman pods, driven through its HTTP API.
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
  requirePrerequisites,
  run,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const deployment = (name: string, replicas: number, image = ORDERS_IMAGE) =>
  `{apiVersion: apps/v1, kind: Deployment, metadata: {name: ${name}, namespace: ${ns}}, spec: {replicas: ${replicas}, selector: {matchLabels: {app: ${name}}}, template: {metadata: {labels: {app: ${name}}}, spec: {containers: [{name: app, image: ${image}, ports: [{containerPort: 80}]}]}}}}`
const pod = (name: string, image = ORDERS_IMAGE) =>
  `{apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: ${ns}}, spec: {containers: [{name: app, image: ${image}, ports: [{containerPort: 80}]}]}}`

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
const workloadNames = async () =>
  (((await api(agent!, "GET", "/v1/workloads")).json?.workloads ?? []) as Array<{ name: string }>)
    .map((w) => w.name)
    .sort()

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-apply-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  expect((await api(agent, "POST", "/v1/workloads", deployment("orders", 2))).status).toBe(201)
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined)
    for (const line of ownedPods())
      run("podman", ["pod", "rm", "-f", "-t", "1", line.split(" ")[0]!])
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("beemesh-agent apply", () => {
  it("a multi-document request whose last document fails changes nothing", async () => {
    const before = ownedPods()
    const body = [
      deployment("cart", 1),
      deployment("orders", 3),
      pod("ghost", "localhost/no-such-image:1"),
    ].join("\n---\n")
    const response = await api(agent!, "POST", "/v1/workloads", body)
    expect(response.status).toBe(422)
    expect(String(response.json?.message)).toMatch(/localhost\/no-such-image:1/)
    // cart is not left running, orders is back to its two pods (the same ones), nothing is saved.
    expect(ownedPods()).toEqual(before)
    expect(await workloadNames()).toEqual(["orders"])
    expect((await api(agent!, "GET", `/v1/workloads/${ns}/orders`)).json?.replicas).toBe(2)
  })

  it("a Pod named like a Deployment's replica is refused with 409 naming the holder", async () => {
    const before = ownedPods()
    const response = await api(agent!, "POST", "/v1/workloads", pod("orders-0"))
    expect(response.status).toBe(409)
    expect(response.json?.error).toBe("PodNameTaken")
    expect(String(response.json?.message)).toContain(
      `pod name bm-${ns}-orders-0 of Pod ${ns}/orders-0 is taken by replica orders-0 of Deployment ${ns}/orders`,
    )
    expect(ownedPods()).toEqual(before)
    expect(await workloadNames()).toEqual(["orders"])
  })

  it("shows status like kubectl: counts, conditions, and each replica's recent events", async () => {
    const status = (await api(agent!, "GET", `/v1/workloads/${ns}/orders`)).json ?? {}
    expect(status).toMatchObject({ desired: 2, ready: 2, updated: 2, available: 2 })
    expect(status.conditions).toContainEqual(
      expect.objectContaining({ type: "Available", status: "True" }),
    )
    podman("kill", `bm-${ns}-orders-1-app`)
    await eventually("the restart of orders-1 in its events", async () => {
      const pods = ((await api(agent!, "GET", `/v1/workloads/${ns}/orders`)).json?.pods ??
        []) as Array<{
        name: string
        phase: string
        events: Array<{ reason: string; message: string }>
      }>
      const replica = pods.find((p) => p.name === "orders-1")
      const reasons = replica?.events.map((e) => e.reason) ?? []
      return replica?.phase === "Running" && reasons.includes("Restarted") ? replica : undefined
    }).then((replica) => {
      // A first exit is restarted at once (the back-off starts with the next one).
      expect(replica.events.map((e) => e.reason)).toEqual([
        "Created",
        "Started",
        "Exited",
        "Created",
        "Started",
        "Restarted",
      ])
      expect(replica.events[2]?.message).toMatch(/container bm-\S+-orders-1-app is exited/)
    })
  })
})
