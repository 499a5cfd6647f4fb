/**
 * Certified membership against a real agent and real pods: the agent runs as its own mesh
 * authority (the single-host default) and hands its sidecars certificates with their leases. A
 * fresh libp2p identity holding the mesh key but no certificate completes a connection to the
 * agent and to a pod's published sidecar port, and both drop it within the membership bound and
 * refuse its redial; a real pod-to-pod call (web's upstream port → orders) works before and after.
 * Then a revocation list naming the orders sidecar, PUT to the agent, reaches web's sidecar with
 * its next lease, and the call fails.
 */
import { randomBytes } from "node:crypto"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  DEFAULT_MEMBERSHIP_TIMEOUT_MS,
  issueRevocations,
  loadKey,
  makeP2pNode,
  parseMeshKey,
} from "@beemesh/p2p"
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
  runAsync,
  startAgent,
} from "./support"

const ns = `mb-${randomBytes(3).toString("hex")}`
let dataDir: string | undefined
let agent: AgentProcess | undefined
let peerId = ""

const manifests = [
  `apiVersion: v1
kind: Pod
metadata: { name: orders, namespace: ${ns} }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`,
  `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=9001" }
spec:
  containers: [{ name: app, image: ${ORDERS_IMAGE} }]
`,
]

/** One HTTP/1.0 request to web's upstream port for orders; prints the status line. */
const CLIENT = `
const net = require("node:net")
const once = () => new Promise((resolve, reject) => {
  const socket = net.connect(9001, "127.0.0.1")
  let data = ""
  socket.on("data", (d) => { data += d })
  socket.on("error", reject)
  socket.on("close", () => resolve(data.split("\\r\\n")[0] ?? ""))
  socket.setTimeout(10000, () => socket.destroy(new Error("timeout")))
  socket.end("GET /cgi-bin/orders HTTP/1.0\\r\\nHost: orders\\r\\n\\r\\n")
})
;(async () => {
  for (let i = 0; ; i++) {
    try { process.stdout.write(await once()); return } catch (e) {
      if (i >= 40) throw e
      await new Promise((r) => setTimeout(r, 250))
    }
  }
})().catch((e) => { console.error(String(e)); process.exit(1) })
`

/** A call from web's pod (its sidecar container: exec into app containers is not always possible). */
const callOrdersFromWeb = async () => {
  const result = await runAsync("podman", [
    "exec",
    `bm-${ns}-web-sidecar`,
    "/usr/local/bin/node",
    "-e",
    CLIENT,
  ])
  expect(result.stderr).toBe("")
  return result.stdout
}

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")
    .split("\n")
    .filter((name) => name !== "")

const scoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

const until = <A>(what: string, probe: () => A | undefined, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = probe()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-membership-"))
  // Short leases: sidecars renew (and get the newest revocation list) every 2 s.
  agent = await startAgent(dataDir, await freePort(), undefined, ["--lease-seconds", "6"])
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  for (const name of ["web", "orders"])
    if (agent !== undefined)
      await api(agent, "DELETE", `/v1/workloads/${ns}/${name}`).catch(() => undefined)
  await agent?.stop()
  if (peerId !== "") await removePods(ownedPods())
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("certified membership (real agent, real pods)", () => {
  it("an identity with the mesh key but no certificate is dropped by the agent and by a pod's sidecar within the bound; pod-to-pod calls work until the callee's sidecar is revoked", async () => {
    const a = agent!
    for (const manifest of manifests)
      expect((await api(a, "POST", "/v1/workloads", manifest)).status).toBe(201)
    const pod = await eventually("the orders pod ready with its published port", async () => {
      const status = await api(a, "GET", `/v1/workloads/${ns}/orders`)
      const pods = (status.json?.pods ?? []) as Array<{ hostPort?: number }>
      return status.json?.ready === 1 && pods[0]?.hostPort !== undefined ? pods[0] : undefined
    })
    await eventually("web ready", async () =>
      (await api(a, "GET", `/v1/workloads/${ns}/web`)).json?.ready === 1 ? true : undefined,
    )
    const sidecar = await eventually("the orders sidecar's registration", async () => {
      const found = await api(a, "GET", `/v1/services/${ns}/orders`)
      return ((found.json?.providers ?? []) as Array<{ peerId: string }>)[0]
    })
    // Both sidecars hold certificates from the agent: the call crosses two membership checks.
    expect(await callOrdersFromWeb()).toMatch(/^HTTP\/1\.[01] 200/)

    const health = await api(a, "GET", "/health")
    const agentAddress = ((health.json?.multiaddrs ?? []) as Array<string>)[0]!
    const sidecarAddress = `/ip4/127.0.0.1/tcp/${pod.hostPort}/p2p/${sidecar.peerId}`
    const meshKey = Result.getOrThrow(
      parseMeshKey(await readFile(join(dataDir!, "mesh.key"), "utf8")),
    )
    // The bound, plus slack for a loaded 2-core machine.
    const boundMs = DEFAULT_MEMBERSHIP_TIMEOUT_MS + 5_000
    const outcome = await scoped(
      Effect.gen(function* () {
        const uncertified = yield* makeP2pNode({ meshKey, dialTimeoutMs: 5_000 })
        const started = Date.now()
        const toAgent = yield* uncertified.dial(agentAddress)
        const toSidecar = yield* uncertified.dial(sidecarAddress)
        yield* until(
          "the agent and the sidecar to drop the uncertified peer",
          () =>
            uncertified.node.getConnections(toAgent).length === 0 &&
            uncertified.node.getConnections(toSidecar).length === 0
              ? true
              : undefined,
          boundMs + 5_000,
        )
        const droppedAfterMs = Date.now() - started
        // A first silence is only a disconnection: the redial gets one more bound, then the
        // connection is cut as soon as Noise names the peer.
        yield* Effect.exit(uncertified.dial(agentAddress))
        yield* Effect.exit(uncertified.dial(sidecarAddress))
        yield* until(
          "the second disconnection",
          () => (uncertified.node.getConnections().length === 0 ? true : undefined),
          boundMs + 5_000,
        )
        const redialled = Date.now()
        yield* Effect.exit(uncertified.dial(agentAddress))
        yield* Effect.exit(uncertified.dial(sidecarAddress))
        yield* until(
          "the redials' close",
          () => (uncertified.node.getConnections().length === 0 ? true : undefined),
          5_000,
        )
        return { droppedAfterMs, redialClosedAfterMs: Date.now() - redialled }
      }),
    )
    expect(outcome.droppedAfterMs).toBeLessThan(boundMs)
    expect(outcome.redialClosedAfterMs).toBeLessThan(DEFAULT_MEMBERSHIP_TIMEOUT_MS)
    // The agent logged why.
    expect(a.logs()).toContain("no valid certificate within")

    expect(await callOrdersFromWeb()).toMatch(/^HTTP\/1\.[01] 200/)
    const after = await api(a, "GET", `/v1/workloads/${ns}/orders`)
    expect(after.json).toMatchObject({ ready: 1, pods: [{ restarts: 0 }] })
    expect(a.child.exitCode).toBeNull()

    // Revoking the orders sidecar (a list signed with the agent's own authority key, PUT to the
    // agent) reaches web's sidecar with its next lease: it drops orders and the call fails.
    const authorityKey = await Effect.runPromise(loadKey(join(dataDir!, "mesh-authority.key")))
    const list = await Effect.runPromise(
      issueRevocations(authorityKey, {
        issuedAt: Date.now(),
        serials: [],
        subjects: [sidecar.peerId],
      }),
    )
    const put = await fetch(`${a.url}/v1/mesh/revocations`, {
      method: "PUT",
      headers: { authorization: `Bearer ${a.token}` },
      body: list,
    })
    expect(await put.json()).toMatchObject({ adopted: true })
    const revokedAt = Date.now()
    await eventually(
      "web's calls to the revoked orders sidecar to fail",
      async () => {
        const result = await runAsync("podman", [
          "exec",
          `bm-${ns}-web-sidecar`,
          "/usr/local/bin/node",
          "-e",
          CLIENT,
        ])
        return /^HTTP\/1\.[01] 200/.test(result.stdout) ? undefined : true
      },
      30_000,
    )
    // One lease renewal (2 s) and one re-check, plus slack for a loaded machine.
    expect(Date.now() - revokedAt).toBeLessThan(25_000)
  })
})
