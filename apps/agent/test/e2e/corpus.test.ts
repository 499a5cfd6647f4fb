/**
 * The bad-input corpus against a real agent process: each manifest gets its 4xx JSON answer with a
 * clear message and no internals, nothing is deployed (the API and Podman agree), and the agent is
 * alive and answering at the end.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BAD_INPUT } from "../corpus/badInput"
import { expectClearRefusal } from "../corpus/refusal"
import {
  type AgentProcess,
  api,
  freePort,
  podman,
  requirePrerequisites,
  startAgent,
} from "./support"

let dataDir: string | undefined
let agent: AgentProcess | undefined
let peerId = ""

const ownedPods = () =>
  podman("pod", "ls", "--filter", `label=io.beemesh.owner=${peerId}`, "--format", "{{.Name}}")

const send = async (method: string, path: string, body: string | Uint8Array) => {
  const response = await fetch(`${agent!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${agent!.token}` },
    body,
    signal: AbortSignal.timeout(60_000),
  })
  return { status: response.status, text: await response.text() }
}

beforeAll(async () => {
  requirePrerequisites()
  dataDir = await mkdtemp(join(tmpdir(), "beemesh-e2e-corpus-"))
  agent = await startAgent(dataDir, await freePort())
  peerId = String((await api(agent, "GET", "/health")).json?.peerId)
})

afterAll(async () => {
  await agent?.stop()
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
})

describe("beemesh-agent refuses the bad-input corpus", () => {
  it(`answers each of the ${BAD_INPUT.length} manifests with a clear 4xx and deploys nothing`, async () => {
    expect(BAD_INPUT.length).toBeGreaterThanOrEqual(50)
    for (const input of BAD_INPUT) {
      const answer = await send("POST", "/v1/workloads", input.body)
      try {
        expectClearRefusal(answer, input)
      } catch (error) {
        throw new Error(`${input.name}: ${error instanceof Error ? error.message : error}`)
      }
    }
    expect((await api(agent!, "GET", "/v1/workloads")).json).toEqual({ workloads: [], orphans: [] })
    expect(ownedPods()).toBe("")
  })

  it("is alive and serving afterwards", async () => {
    expect(agent!.child.exitCode).toBeNull()
    const health = await api(agent!, "GET", "/health")
    expect(health.status).toBe(200)
    expect(health.json?.peerId).toBe(peerId)
    expect(agent!.logs()).not.toMatch(/RangeError|Maximum call stack|InternalError/)
  })
})
