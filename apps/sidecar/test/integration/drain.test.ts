/**
 * Shutdown drains: a request in flight through the caller's sidecar when it shuts down still gets
 * its answer, and the shutdown ends well within 2 s. Two sidecars in-process (real libp2p on
 * 127.0.0.1) and a stand-in agent.
 */
import { connect, createServer, type Server } from "node:net"
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { decodeSettings } from "../../src/SidecarConfig"
import { sidecarLayer } from "../../src/SidecarLayers"
import { closeServer, freePort, waitFor } from "../support/net"
import { type StandInAgent, startStandInAgent } from "../support/StandInAgent"

const TOKENS = { "drain-a": "drain-token-a-0123456789", "drain-b": "drain-token-b-0123456789" }

let agent: StandInAgent
let slowApp: Server
let appPort: number
let requestsReceived = 0

beforeAll(async () => {
  agent = await startStandInAgent({ tokens: TOKENS })
  // Answers "wait:<ms>" after <ms>, then closes: a request that stays in flight for a while.
  slowApp = createServer((socket) => {
    // A request cut by the shutdown reaches the app as a reset: expected, not a test failure.
    socket.on("error", () => {})
    socket.once("data", (d) => {
      requestsReceived++
      setTimeout(() => socket.end("pong"), Number(String(d).split(":")[1]))
    })
  })
  await new Promise<void>((r) => slowApp.listen(0, "127.0.0.1", r))
  appPort = (slowApp.address() as { port: number }).port
})
afterAll(async () => {
  await agent.close()
  await closeServer(slowApp)
})

const startSidecar = async (pod: keyof typeof TOKENS, env: Record<string, string>) => {
  const [listen, health] = await Promise.all([freePort(), freePort()])
  const settings = await Effect.runPromise(
    decodeSettings({
      BEEMESH_NAMESPACE: "drain",
      BEEMESH_WORKLOAD: pod,
      BEEMESH_POD: pod,
      BEEMESH_POD_TOKEN: TOKENS[pod],
      BEEMESH_AGENT_URL: agent.url,
      BEEMESH_LISTEN_PORT: String(listen),
      BEEMESH_HEALTH_PORT: String(health),
      BEEMESH_ADVERTISE: `/ip4/127.0.0.1/tcp/${listen}`,
      ...env,
    }),
  )
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(Layer.buildWithScope(sidecarLayer(settings), scope))
  await waitFor(`${pod} registered`, () => (agent.registrations.has(pod) ? true : undefined))
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}

/** Sends one request taking `answerMs` and shuts the caller's sidecar down once the app has it. */
const shutDownDuringRequest = async (answerMs: number) => {
  const upstream = await freePort()
  const stopB = await startSidecar("drain-b", { BEEMESH_SERVICES: `slow=${appPort}` })
  const stopA = await startSidecar("drain-a", { BEEMESH_UPSTREAMS: `slow=${upstream}` })
  try {
    const receivedBefore = requestsReceived
    const answer = new Promise<string>((resolve) => {
      let text = ""
      const socket = connect(upstream, "127.0.0.1", () => socket.write(`wait:${answerMs}`))
      socket.on("data", (d) => {
        text += String(d)
      })
      socket.on("close", () => resolve(text))
      socket.on("error", () => {})
    })
    await waitFor("the app to receive the request", () =>
      requestsReceived > receivedBefore ? true : undefined,
    )
    const started = performance.now()
    await stopA()
    const stoppedAfterMs = performance.now() - started
    return {
      answer: await answer,
      stoppedAfterMs,
      stillRegistered: agent.registrations.has("drain-a"),
    }
  } finally {
    await stopB()
  }
}

describe("shutdown", () => {
  it("lets a request in flight finish within the drain budget", async () => {
    const r = await shutDownDuringRequest(300)
    expect(r.answer).toBe("pong")
    expect(r.stoppedAfterMs).toBeLessThan(2000)
    expect(r.stillRegistered).toBe(false)
  })

  it("cuts a request that outlasts the drain budget and still stops within 2 s", async () => {
    const r = await shutDownDuringRequest(5000)
    expect(r.answer).toBe("")
    expect(r.stoppedAfterMs).toBeLessThan(2000)
    expect(r.stillRegistered).toBe(false)
  })
})
