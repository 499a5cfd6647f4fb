/**
 * Mesh membership against a real agent and a real pod: the agent's libp2p port and the sidecar's
 * published port accept only peers holding the mesh key. A fresh libp2p identity without it cannot
 * complete a connection to either, and the agent stores nothing about it; a member with the key
 * (read from the agent's own mesh.key) connects to both, and the workload keeps serving.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeP2pNode, parseMeshKey } from "@beemesh/p2p"
import { Effect, Result, type Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string | undefined
let agent: AgentProcess | undefined
let peerId = ""

const manifest = `
apiVersion: v1
kind: Pod
metadata: { name: orders, namespace: ${ns} }
spec:
  containers:
    - name: app
      image: ${ORDERS_IMAGE}
      ports: [{ containerPort: 80 }]
`

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")

const scoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-mesh-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  if (agent !== undefined)
    await api(agent, "DELETE", `/v1/workloads/${ns}/orders`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== "") await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("mesh membership (private network)", () => {
  it("a fresh identity without the mesh key reaches neither the agent nor a pod's sidecar; a member reaches both", async () => {
    const a = agent!
    expect((await api(a, "POST", "/v1/workloads", manifest)).status).toBe(201)
    const pod = await eventually("the orders pod ready with its published port", async () => {
      const status = await api(a, "GET", `/v1/workloads/${ns}/orders`)
      const pods = (status.json?.pods ?? []) as Array<{ hostPort?: number }>
      return status.json?.ready === 1 && pods[0]?.hostPort !== undefined ? pods[0] : undefined
    })
    const sidecar = await eventually("the sidecar's registration", async () => {
      const found = await api(a, "GET", `/v1/services/${ns}/orders`)
      const providers = (found.json?.providers ?? []) as Array<{ peerId: string }>
      return providers[0]
    })
    const health = await api(a, "GET", "/health")
    const agentAddress = ((health.json?.multiaddrs ?? []) as Array<string>)[0]!
    const sidecarAddress = `/ip4/127.0.0.1/tcp/${pod.hostPort}/p2p/${sidecar.peerId}`
    const meshKey = Result.getOrThrow(
      parseMeshKey(await readFile(join(dataDir!, "mesh.key"), "utf8")),
    )

    const stranger = await scoped(
      Effect.gen(function* () {
        const node = yield* makeP2pNode({ dialTimeoutMs: 5_000 })
        const toAgent = yield* Effect.flip(node.dial(agentAddress))
        const toSidecar = yield* Effect.flip(node.dial(sidecarAddress))
        return { id: node.peerId.toString(), toAgent, toSidecar }
      }),
    )
    expect(stranger.toAgent._tag).toBe("DialFailed")
    expect(stranger.toSidecar._tag).toBe("DialFailed")
    // Nothing about the stranger was kept: the agent's peers do not name it.
    expect(JSON.stringify((await api(a, "GET", "/v1/peers")).json)).not.toContain(stranger.id)

    await scoped(
      Effect.gen(function* () {
        const member = yield* makeP2pNode({ meshKey, dialTimeoutMs: 5_000 })
        const toAgent = yield* member.dial(agentAddress)
        expect(toAgent.toString()).toBe(peerId)
        const toSidecar = yield* member.dial(sidecarAddress)
        expect(toSidecar.toString()).toBe(sidecar.peerId)
        yield* Effect.promise(() => member.node.services.ping.ping(toSidecar))
      }),
    )
    // The pod and its sidecar were not disturbed by either attempt.
    const after = await api(a, "GET", `/v1/workloads/${ns}/orders`)
    expect(after.json).toMatchObject({ ready: 1, pods: [{ restarts: 0 }] })
    expect(a.child.exitCode).toBeNull()
  })
})
