/**
 * Warm pods end to end: a real agent with `--warm-pods 1` over real Podman, nftables and libp2p
 * sidecars. A standby pod is made ahead of need with its sidecar waiting; a Deployment's replica
 * claims it (no pod of its own name is made), its app gets the replica's hostname, and a client
 * pod reaches it through the sidecars. The pool is refilled; an agent stopped removes its unclaimed
 * standby pod and keeps the claimed one, which a restarted agent adopts as the replica it serves;
 * one killed leaves its unclaimed standby pod, which it removes when it starts again.
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
  appExec,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `warm-${randomBytes(3).toString("hex")}`
let dataDir: string
let apiPort: number
let agent: AgentProcess | undefined
let peerId: string | undefined

const ordersDoc = `apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          command:
            - /bin/busybox
            - sh
            - -c
            - >-
              /bin/busybox mkdir -p /h &&
              /bin/busybox hostname > /h/index.html &&
              exec /bin/busybox httpd -f -p 127.0.0.1:8088 -h /h
          ports: [{ containerPort: 8088 }]
`
const clientDoc = `apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=80" }
spec:
  containers:
    - name: app
      image: ${ORDERS_IMAGE}
      command: [/bin/busybox, sh, -c, "trap 'exit 0' TERM; while true; do /bin/busybox sleep 1; done"]
`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((line) => line !== "")
    .sort()
const standbyPods = () => ownedPods().filter((name) => name.startsWith("bm-standby-"))

interface PodStatus {
  readonly pod: string
  readonly podmanPod?: string
  readonly phase: string
  readonly restarts: number
  readonly registered?: boolean
}
const podsOf = async (name: string) =>
  ((await api(agent!, "GET", `/v1/workloads/${ns}/${name}`)).json?.pods ?? []) as Array<PodStatus>

const get = (container: string, url: string) =>
  appExec(container, ["/bin/busybox", "timeout", "4", "/bin/busybox", "wget", "-q", "-O", "-", url])

const start = async () => {
  agent = await startAgent(dataDir, apiPort, undefined, ["--warm-pods", "1"])
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
}

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-warm-"))
  apiPort = await freePort()
  await start()
})

afterAll(async () => {
  await agent?.stop()
  if (peerId !== undefined) await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("warm pods on a real agent", () => {
  let claimed = ""

  it("a replica claims the standby pod made ahead of need and answers a client through the sidecars", async () => {
    const standby = await eventually("a standby pod with its sidecar running", async () => {
      const [name] = standbyPods()
      if (name === undefined) return undefined
      const state = podman("inspect", `${name}-sidecar`, "--format", "{{.State.Status}}")
      return state === "running" ? name : undefined
    })
    const applied = await api(agent!, "POST", "/v1/workloads", ordersDoc)
    expect(applied.status, JSON.stringify(applied.json)).toBe(201)
    const [replica] = await podsOf("orders")
    expect(replica?.pod).toBe(`bm-${ns}-orders-0`)
    expect(replica?.podmanPod).toBe(standby)
    claimed = standby
    // No pod of the replica's own name: the standby pod serves it.
    expect(ownedPods()).not.toContain(`bm-${ns}-orders-0`)
    const client = await api(agent!, "POST", "/v1/workloads", clientDoc)
    expect(client.status, JSON.stringify(client.json)).toBe(201)
    const [clientPod] = await podsOf("client")
    const clientApp = `${clientPod?.podmanPod ?? clientPod?.pod}-app`
    // The app's hostname is the replica's pod name, as in a pod made for it.
    const answer = await eventually(
      "the claimed replica's answer through the sidecars",
      async () => {
        const out = await get(clientApp, "http://orders:80/")
        return out.status === 0 ? out.stdout.trim() : undefined
      },
    )
    expect(answer).toBe(`bm-${ns}-orders-0`)
    // Its logs are found under the replica's pod name.
    const logs = await fetch(`${agent!.url}/v1/pods/bm-${ns}-orders-0/logs?container=sidecar`, {
      headers: { authorization: `Bearer ${agent!.token}` },
    })
    expect(logs.status).toBe(200)
    expect(await logs.text()).toContain("sidecar claimed")
    // The pool is refilled (after claims pause).
    await eventually("a new standby pod", async () =>
      standbyPods().filter((n) => n !== claimed && n !== clientPod?.podmanPod).length === 1
        ? true
        : undefined,
    )
  })

  it("a stopped agent removes its unclaimed standby pod; restarted, it adopts the claimed one", async () => {
    const [clientPod] = await podsOf("client")
    const serving = new Set([claimed, clientPod?.podmanPod ?? clientPod?.pod])
    const unclaimed = standbyPods().filter((name) => !serving.has(name))
    expect(unclaimed).toHaveLength(1)
    await agent!.stop()
    const left = ownedPods()
    expect(left).toContain(claimed)
    for (const name of unclaimed) expect(left).not.toContain(name)
    await start()
    const [replica] = await podsOf("orders")
    expect([replica?.pod, replica?.podmanPod, replica?.phase, replica?.restarts]).toEqual([
      `bm-${ns}-orders-0`,
      claimed,
      "Running",
      0,
    ])
  })

  it("a killed agent's unclaimed standby pods are removed when it starts again", async () => {
    const unclaimed = await eventually("a new standby pod", async () => {
      const [replica] = await podsOf("orders")
      const [clientPod] = await podsOf("client")
      const serving = new Set([replica?.podmanPod, clientPod?.podmanPod ?? clientPod?.pod])
      const free = standbyPods().filter((name) => !serving.has(name))
      return free.length === 1 ? free[0] : undefined
    })
    agent!.child.kill("SIGKILL")
    await agent!.stop()
    expect(ownedPods()).toContain(unclaimed)
    await start()
    expect(ownedPods()).not.toContain(unclaimed)
    expect(ownedPods()).toContain(claimed)
    expect(agent!.logs()).toContain("removed 1 unclaimed standby pods of an earlier run")
  })
})
