/**
 * Silent peers against a real agent and a real pod: TCP peers that connect to the agent's libp2p
 * port or to a pod's published sidecar port and then send nothing, or stall after the private
 * network's first step, are dropped within the upgrade bound (5 s), and while fifty of them are held
 * open a member still connects to both and pings the sidecar.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeP2pNode, parseMeshKey } from "@beemesh/p2p"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import {
  type AgentProcess,
  api,
  eventually,
  freePort,
  removePodsOwnedBy,
  requirePrerequisites,
  startAgent,
} from "./support"

const ns = `e2e-${randomBytes(3).toString("hex")}`
let dataDir: string | undefined
let agent: AgentProcess | undefined
let peerId = ""

const manifest = `{apiVersion: v1, kind: Pod, metadata: {name: orders, namespace: ${ns}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, ports: [{containerPort: 80}]}]}}`

/** Connects, sends `first` (or nothing), then nothing more; `closedAt` is when it was closed. */
const silentPeer = (port: number, first?: Uint8Array) =>
  new Promise<{ readonly openedAt: number; readonly closedAt: Promise<number> }>(
    (resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.once("error", reject)
      socket.once("connect", () => {
        socket.off("error", reject)
        socket.on("error", () => undefined)
        const at = performance.now()
        if (first !== undefined) socket.write(first)
        // Read (and drop) what comes: a socket never read from never notices the close.
        socket.resume()
        // Wrapped: a promise resolved with a promise would wait for it.
        resolve({
          openedAt: at,
          closedAt: new Promise((done) => socket.once("close", () => done(performance.now()))),
        })
      })
    },
  )

/** Twenty that send nothing and five that stall after the private network's 24-byte nonce. */
const silentPeers = (port: number) =>
  Promise.all([
    ...Array.from({ length: 20 }, () => silentPeer(port)),
    ...Array.from({ length: 5 }, () => silentPeer(port, randomBytes(24))),
  ])

const portOf = (multiaddr: string) => Number(multiaddr.split("/")[4])

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-silent-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  if (agent !== undefined)
    await api(agent, "DELETE", `/v1/workloads/${ns}/orders`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== "") await removePodsOwnedBy(peerId)
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("silent peers at the agent's and a sidecar's libp2p port", () => {
  it("are dropped within the upgrade bound, and do not stop a member's connection meanwhile", async () => {
    const a = agent!
    expect((await api(a, "POST", "/v1/workloads", manifest)).status).toBe(201)
    const pod = await eventually("the orders pod ready with its published port", async () => {
      const status = await api(a, "GET", `/v1/workloads/${ns}/orders`)
      const pods = (status.json?.pods ?? []) as Array<{ hostPort?: number }>
      return status.json?.ready === 1 && pods[0]?.hostPort !== undefined ? pods[0] : undefined
    })
    const sidecar = await eventually("the sidecar's registration", async () => {
      const found = await api(a, "GET", `/v1/services/${ns}/orders`)
      return ((found.json?.providers ?? []) as Array<{ peerId: string }>)[0]
    })
    const agentAddress = (
      ((await api(a, "GET", "/health")).json?.multiaddrs ?? []) as Array<string>
    )[0]!
    const sidecarAddress = `/ip4/127.0.0.1/tcp/${pod.hostPort}/p2p/${sidecar.peerId}`
    const meshKey = Result.getOrThrow(
      parseMeshKey(await readFile(join(dataDir!, "mesh.key"), "utf8")),
    )

    const held = [
      ...(await silentPeers(portOf(agentAddress))),
      ...(await silentPeers(pod.hostPort!)),
    ]
    // While they are held open, a member connects to both and is answered.
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const member = yield* makeP2pNode({ meshKey, dialTimeoutMs: 5_000 })
          expect((yield* member.dial(agentAddress)).toString()).toBe(peerId)
          const toSidecar = yield* member.dial(sidecarAddress)
          yield* Effect.promise(() => member.node.services.ping.ping(toSidecar))
        }),
      ),
    )
    const answeredAt = performance.now()
    const closedAt = await Promise.all(held.map((peer) => peer.closedAt))
    expect(answeredAt).toBeLessThan(Math.min(...closedAt))
    const closedAfter = held.map((peer, i) => closedAt[i]! - peer.openedAt)
    // The 5 s bound, with a margin for a loaded 2-core machine and the port forwarder's hop.
    expect(Math.max(...closedAfter)).toBeLessThan(9_000)
    const after = await api(a, "GET", `/v1/workloads/${ns}/orders`)
    expect(after.json).toMatchObject({ ready: 1, pods: [{ restarts: 0 }] })
  })
})
