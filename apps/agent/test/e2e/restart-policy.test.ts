/**
 * A Pod's restartPolicy end to end: a real agent over real Podman pods. With Never, an app that
 * exits stays exited (phase Failed, its exit code kept, its pod left as it ended); with OnFailure,
 * an app that exits 1 is restarted and one that exits 0 is not (phase Succeeded).
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
  removePodsOwnedBy,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `rp-${randomBytes(3).toString("hex")}`
let dataDir: string
let agent: AgentProcess | undefined
let peerId: string | undefined

const pod = (name: string, policy: string, script: string) =>
  `{apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: ${ns}}, spec: {restartPolicy: ${policy}, containers: [{name: app, image: ${ORDERS_IMAGE}, command: [/bin/busybox, sh, -c, "${script}"]}]}}`

interface Replica {
  readonly phase: string
  readonly restarts: number
  readonly message?: string
  readonly lastTermination?: { container: string; exitCode: number; logTail: Array<string> }
}

const replicaOf = async (name: string) =>
  (
    ((await api(agent!, "GET", `/v1/workloads/${ns}/${name}`)).json?.pods ?? []) as Array<Replica>
  )[0]

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-restart-policy-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  // Through the agent first (how a user removes them), then a sweep for anything it left: a pod
  // that ended was found half-removed (its holder alone) after `pod rm` right behind the stop.
  if (agent !== undefined)
    for (const name of ["once", "flaky", "job"])
      await api(agent, "DELETE", `/v1/workloads/${ns}/${name}`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== undefined) await removePodsOwnedBy(peerId)
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("a Pod's restartPolicy on a real agent", () => {
  it("Never: an app that exits stays exited (Failed, its code and output kept)", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      pod("once", "Never", "echo ran-once; exit 3"),
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    const ended = await eventually("once to end as Failed", async () => {
      const replica = await replicaOf("once")
      return replica?.phase === "Failed" ? replica : undefined
    })
    expect(ended).toMatchObject({
      restarts: 0,
      lastTermination: { container: "app", exitCode: 3, logTail: ["ran-once"] },
      message: expect.stringContaining("not restarted (restartPolicy Never)"),
    })
    // Longer than an immediate restart and a pod creation: it stays as it ended.
    await sleep(5_000)
    expect(await replicaOf("once")).toMatchObject({ phase: "Failed", restarts: 0 })
    expect(podman("inspect", `bm-${ns}-once-app`, "--format", "{{.State.Status}}")).toBe("exited")
  })

  it("OnFailure: exit 1 is restarted, exit 0 is not (Succeeded)", async () => {
    const applied = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `${pod("flaky", "OnFailure", "echo failing; exit 1")}\n---\n${pod("job", "OnFailure", "echo finished; exit 0")}`,
    )
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    const flaky = await eventually("flaky to be restarted", async () => {
      const replica = await replicaOf("flaky")
      return replica !== undefined && replica.restarts >= 1 ? replica : undefined
    })
    expect(flaky.lastTermination).toMatchObject({ container: "app", exitCode: 1 })
    const job = await eventually("job to end as Succeeded", async () => {
      const replica = await replicaOf("job")
      return replica?.phase === "Succeeded" ? replica : undefined
    })
    expect(job).toMatchObject({ restarts: 0, lastTermination: { exitCode: 0 } })
    await sleep(5_000)
    expect(await replicaOf("job")).toMatchObject({ phase: "Succeeded", restarts: 0 })
    expect(podman("inspect", `bm-${ns}-job-app`, "--format", "{{.State.Status}}")).toBe("exited")
  })

  it("a Deployment with restartPolicy Never is refused by name, nothing deployed", async () => {
    const before = ownedPods().length
    const answer = await api(
      agent!,
      "POST",
      "/v1/workloads",
      `{apiVersion: apps/v1, kind: Deployment, metadata: {name: d, namespace: ${ns}}, spec: {selector: {matchLabels: {app: d}}, template: {metadata: {labels: {app: d}}, spec: {restartPolicy: Never, containers: [{name: app, image: ${ORDERS_IMAGE}}]}}}}`,
    )
    expect(answer.status).toBe(400)
    expect(answer.json?.message).toContain(
      "spec.template.spec.restartPolicy: a Deployment's pods restart Always",
    )
    expect(ownedPods().length).toBe(before)
  })
})
