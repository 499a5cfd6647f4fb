/**
 * The bundled sidecar (dist/sidecar.mjs, what the image runs) as a plain process on 127.0.0.1 with
 * a stand-in agent: exit codes and signals, without Podman.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { NODE_BINARY } from "../../image/build"
import { bundleSidecar } from "../../image/bundle"
import { SIDECAR_NODE_FLAGS } from "../../src/NodeFlags"
import { freePort, waitFor } from "../support/net"
import { type StandInAgent, startStandInAgent } from "../support/StandInAgent"

const TOKEN = "process-test-token-0123456789"
let bundle: string
let dir: string
let agent: StandInAgent
const children: Array<ChildProcess> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "beemesh-sidecar-process-"))
  bundle = await bundleSidecar(join(dir, "sidecar.mjs"))
  agent = await startStandInAgent({
    tokens: { "proc-a": TOKEN },
    ttlSeconds: 5,
    renewAfterSeconds: 1,
  })
})
afterAll(async () => {
  await agent.close()
  rmSync(dir, { recursive: true, force: true })
})
afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

interface Run {
  readonly child: ChildProcess
  readonly exit: Promise<{ code: number | null; at: number }>
  readonly stderr: () => string
}

/** Starts the bundle as the image's entrypoint does (`nodeFlags` replaces SIDECAR_NODE_FLAGS). */
const runSidecar = async (
  env: Record<string, string>,
  nodeFlags: ReadonlyArray<string> = SIDECAR_NODE_FLAGS,
): Promise<Run> => {
  const [listen, health] = await Promise.all([freePort(), freePort()])
  const child = spawn(NODE_BINARY, [...nodeFlags, bundle], {
    env: {
      PATH: process.env.PATH ?? "",
      BEEMESH_NAMESPACE: "default",
      BEEMESH_WORKLOAD: "proc",
      BEEMESH_POD: "proc-a",
      BEEMESH_POD_TOKEN: TOKEN,
      BEEMESH_AGENT_URL: agent.url,
      BEEMESH_LISTEN_PORT: String(listen),
      BEEMESH_HEALTH_PORT: String(health),
      BEEMESH_ADVERTISE: `/ip4/127.0.0.1/tcp/${listen}`,
      BEEMESH_SERVICES: "web=18999",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  })
  children.push(child)
  let stderr = ""
  child.stderr?.on("data", (d) => {
    stderr += String(d)
  })
  child.stdout?.on("data", (d) => {
    stderr += String(d)
  })
  const exit = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on("exit", (code) => resolve({ code, at: performance.now() })),
  )
  return { child, exit, stderr: () => stderr }
}

describe("the bundled sidecar process", () => {
  it("registers, and on SIGTERM unregisters and exits 0 within 2 s", async () => {
    const run = await runSidecar({})
    await waitFor(
      "registration",
      () => (agent.registrations.has("proc-a") ? true : undefined),
      20_000,
    )
    const sent = performance.now()
    run.child.kill("SIGTERM")
    const { code, at } = await run.exit
    expect(code).toBe(0)
    expect(at - sent).toBeLessThan(2000)
    expect(agent.registrations.has("proc-a")).toBe(false)
    expect(agent.events.at(-1)?.kind).toBe("unregister")
    expect(run.stderr()).toContain("SIGTERM")
    expect(run.stderr()).not.toContain("started without")
  })

  it("warns, naming the flag, when node runs without the proxy's V8 flags", async () => {
    const run = await runSidecar({}, [])
    await waitFor(
      "registration",
      () => (agent.registrations.has("proc-a") ? true : undefined),
      20_000,
    )
    run.child.kill("SIGTERM")
    expect((await run.exit).code).toBe(0)
    expect(run.stderr()).toContain(`node was started without ${SIDECAR_NODE_FLAGS.join(" ")}`)
  })

  it("exits 2 naming every bad variable", async () => {
    const run = await runSidecar({ BEEMESH_UPSTREAMS: "web", BEEMESH_HEALTH_HOST: "localhost" })
    const { code } = await run.exit
    expect(code).toBe(2)
    expect(run.stderr()).toContain('BEEMESH_UPSTREAMS="web": entry "web" has no \'=\'')
    expect(run.stderr()).toContain('BEEMESH_HEALTH_HOST="localhost"')
    expect(run.stderr()).not.toContain(TOKEN)
  })

  it("exits 1 when the agent refuses the pod's token", async () => {
    const run = await runSidecar({ BEEMESH_POD_TOKEN: "a-token-the-agent-does-not-know" })
    const { code } = await run.exit
    expect(code).toBe(1)
    expect(run.stderr()).toContain("401")
  })

  it("exits 1 naming the port when the libp2p port is taken", async () => {
    const first = await runSidecar({})
    await waitFor(
      "registration",
      () => (agent.registrations.has("proc-a") ? true : undefined),
      20_000,
    )
    const port = /\/tcp\/(\d+)/.exec(agent.registrations.get("proc-a")!.multiaddrs[0]!)![1]!
    const second = await runSidecar({ BEEMESH_LISTEN_PORT: port })
    const { code } = await second.exit
    expect(code).toBe(1)
    expect(second.stderr()).toContain(`/ip4/0.0.0.0/tcp/${port}`)
    first.child.kill("SIGTERM")
    expect((await first.exit).code).toBe(0)
  })
})
