/**
 * Removing a many-replica workload end to end: a real agent over real Podman pods. When DELETE
 * answers, nothing of the workload is left: no pod, no slirp4netns process of its pods' network
 * namespaces, no service record.
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
  sandboxOf,
  slirpFor,
  startAgent,
} from "./support"

const REPLICAS = 12
const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess | undefined

const manifest = (replicas: number) =>
  `{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: ${ns}}, spec: {replicas: ${replicas}, selector: {matchLabels: {app: orders}}, template: {metadata: {labels: {app: orders}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80}]}]}}}}`

const podsOfRun = () =>
  podman("pod", "ps", "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name.startsWith(`bm-${ns}-`))
    .sort()

const providers = async () => {
  const listed = await api(agent!, "GET", "/v1/services")
  const services = (listed.json?.services ?? []) as Array<{
    namespace: string
    providers: Array<{ pod: string }>
  }>
  return services.filter((s) => s.namespace === ns).flatMap((s) => s.providers.map((p) => p.pod))
}

const allRegistered = (count: number) =>
  eventually(
    `${count} replicas running and registered`,
    async () => {
      const status = await api(agent!, "GET", `/v1/workloads/${ns}/orders`)
      return status.json?.ready === count && (await providers()).length === count ? true : undefined
    },
    240_000,
  )

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-teardown-"))
  agent = await startAgent(dataDir, await freePort())
})

afterAll(async () => {
  await agent?.stop()
  // The agent keeps its pods when it stops: a failed test must not leave them behind.
  for (const pod of podsOfRun()) run("podman", ["pod", "rm", "-f", "-t", "0", pod])
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("removing a workload of many replicas", () => {
  it(`scaling ${REPLICAS} → 4 and deleting leave no pod, slirp4netns process or record of the removed replicas`, async () => {
    expect((await api(agent!, "POST", "/v1/workloads", manifest(REPLICAS))).status).toBe(201)
    await allRegistered(REPLICAS)
    const pods = podsOfRun()
    expect(pods).toHaveLength(REPLICAS)
    const sandboxes = new Map(pods.map((pod) => [pod, sandboxOf(pod)]))
    for (const [pod, sandbox] of sandboxes)
      expect(slirpFor(sandbox), `slirp4netns of ${pod}`).not.toEqual([])

    // Scaling down takes the same path: when the apply answers, the surplus is gone.
    expect((await api(agent!, "POST", "/v1/workloads", manifest(4))).status).toBe(201)
    const kept = podsOfRun()
    expect(kept).toHaveLength(4)
    for (const [pod, sandbox] of sandboxes)
      if (!kept.includes(pod)) expect(slirpFor(sandbox), `slirp4netns of ${pod}`).toEqual([])
    expect((await providers()).sort()).toEqual(kept.map((pod) => pod.slice(`bm-${ns}-`.length)))

    const deleted = await api(agent!, "DELETE", `/v1/workloads/${ns}/orders`)
    expect(deleted.status).toBe(204)
    // Checked at once: DELETE answers when everything is gone, not before.
    expect(podsOfRun()).toEqual([])
    for (const [pod, sandbox] of sandboxes)
      expect(slirpFor(sandbox), `slirp4netns of ${pod}`).toEqual([])
    expect(await providers()).toEqual([])
    expect(agent!.logs()).not.toMatch(/could not be removed|outlived its pod/)
  })
})
