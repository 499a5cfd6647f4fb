import { createServer, type Socket } from "node:net"
import type { Registration } from "@beemesh/contract"
import { serve } from "@hono/node-server"
import { Effect, Redacted, Result } from "effect"
import { Hono } from "hono"
import { afterEach, describe, expect, it } from "vitest"
import { closeServer, freePort, waitFor } from "../test/support/net"
import { type StandInAgent, startStandInAgent } from "../test/support/StandInAgent"
import { AgentClient, type AgentError, isRetryable } from "./AgentClient"

const TOKEN_A = "token-a-0123456789abcdef"
const TOKEN_B = "token-b-0123456789abcdef"

const registrationOf = (pod: string, namespace = "default"): Registration.Registration => ({
  namespace,
  workload: "web",
  pod,
  peerId: `12D3KooW${pod}`,
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: [{ name: "orders", port: 80 }],
})

const clientFor = (url: string, pod: string, token: string, requestTimeoutMs?: number) =>
  AgentClient.make({
    agentUrl: url,
    podToken: Redacted.make(token),
    namespace: "default",
    pod,
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
  })

const failureOf = <A>(effect: Effect.Effect<A, AgentError>): Promise<AgentError> =>
  Effect.runPromise(Effect.result(effect)).then((r) => {
    if (Result.isSuccess(r)) throw new Error("expected a failure")
    return r.failure
  })

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const agent = async (ttl?: {
  ttlSeconds: number
  renewAfterSeconds: number
}): Promise<StandInAgent> => {
  const a = await startStandInAgent({ tokens: { "pod-a": TOKEN_A, "pod-b": TOKEN_B }, ...ttl })
  cleanups.push(a.close)
  return a
}

describe("AgentClient against the stand-in agent", () => {
  it("registers, renews and unregisters with the contract's requests", async () => {
    const a = await agent({ ttlSeconds: 12, renewAfterSeconds: 4 })
    const client = clientFor(a.url, "pod-a", TOKEN_A)
    expect(await Effect.runPromise(client.register(registrationOf("pod-a")))).toEqual({
      ttlSeconds: 12,
      renewAfterSeconds: 4,
    })
    expect(a.registrations.get("pod-a")).toEqual(registrationOf("pod-a"))
    await Effect.runPromise(client.register(registrationOf("pod-a")))
    await Effect.runPromise(client.unregister())
    expect(a.events.map((e) => e.kind)).toEqual(["register", "renew", "unregister"])
    expect(a.registrations.size).toBe(0)
  })

  it("resolves the providers of a service in its own namespace only", async () => {
    const a = await agent()
    await Effect.runPromise(clientFor(a.url, "pod-b", TOKEN_B).register(registrationOf("pod-b")))
    const client = clientFor(a.url, "pod-a", TOKEN_A)
    expect(await Effect.runPromise(client.resolve("orders"))).toEqual({
      providers: [
        {
          peerId: "12D3KooWpod-b",
          multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
          pod: "pod-b",
          workload: "web",
        },
      ],
    })
    expect(await Effect.runPromise(client.resolve("billing"))).toEqual({ providers: [] })
    await Effect.runPromise(
      clientFor(a.url, "pod-b", TOKEN_B).register(registrationOf("pod-b", "other")),
    )
    expect(await Effect.runPromise(client.resolve("orders"))).toEqual({ providers: [] })
  })

  it("reports a refused token as a non-retryable AgentRejected", async () => {
    const a = await agent()
    const error = await failureOf(
      clientFor(a.url, "pod-a", TOKEN_B).register(registrationOf("pod-a")),
    )
    expect(error._tag).toBe("AgentRejected")
    expect(error.message).toContain("401")
    expect(error.message).toContain(`PUT ${a.url}/v1/pods/pod-a/services`)
    expect(isRetryable(error)).toBe(false)
  })

  it("reports a 503 as a retryable AgentRejected", async () => {
    const a = await agent()
    a.failNext(1, 503)
    const error = await failureOf(clientFor(a.url, "pod-a", TOKEN_A).unregister())
    expect(error._tag).toBe("AgentRejected")
    expect(isRetryable(error)).toBe(true)
  })

  it("reports a closed port as a retryable AgentUnreachable", async () => {
    const port = await freePort()
    const error = await failureOf(
      clientFor(`http://127.0.0.1:${port}`, "pod-a", TOKEN_A).resolve("orders"),
    )
    expect(error._tag).toBe("AgentUnreachable")
    expect(error.message).toContain("ECONNREFUSED")
    expect(isRetryable(error)).toBe(true)
  })

  it("gives up on an agent that accepts but never answers", async () => {
    const sockets: Array<Socket> = []
    const silent = createServer((socket) => void sockets.push(socket))
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r))
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy()
      return closeServer(silent)
    })
    const port = (silent.address() as { port: number }).port
    const error = await failureOf(
      clientFor(`http://127.0.0.1:${port}`, "pod-a", TOKEN_A, 200).register(
        registrationOf("pod-a"),
      ),
    )
    expect(error._tag).toBe("AgentUnreachable")
    expect(error.message).toContain("no answer within 200 ms")
  })

  it("rejects an answer that does not match the contract", async () => {
    const app = new Hono().put("/v1/pods/:pod/services", (c) => c.json({ ttl: 5 }))
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
    await new Promise<void>((r) => server.once("listening", r))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    const port = (server.address() as { port: number }).port
    const error = await failureOf(
      clientFor(`http://127.0.0.1:${port}`, "pod-a", TOKEN_A).register(registrationOf("pod-a")),
    )
    expect(error._tag).toBe("AgentRejected")
    expect(error.message).toContain("does not match the contract")
  })
  it("watches on a connection of its own: a renewal is not held behind a held watch", async () => {
    const held: Array<{ url: string; release: () => void }> = []
    const app = new Hono()
      .get("/v1/services/:namespace/:service", async (c) => {
        // Held until the test releases it, as the agent holds a watch whose set has not changed.
        await new Promise<void>((release) => held.push({ url: c.req.url, release }))
        return c.json({ providers: [], version: "v2" })
      })
      .put("/v1/pods/:pod/services", (c) => c.json({ ttlSeconds: 30, renewAfterSeconds: 10 }))
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 })
    await new Promise<void>((r) => server.once("listening", r))
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const h of held) h.release()
          server.close(() => r())
        }),
    )
    const port = (server.address() as { port: number }).port
    // Four watches: as many as the kept pool for renewals and resolves holds connections.
    const client = clientFor(`http://127.0.0.1:${port}`, "pod-a", TOKEN_A, 1000)
    const watches = ["a", "b", "c", "d"].map((service) =>
      Effect.runPromise(client.watch(service, "v1")),
    )
    await waitFor("four held watches", () => (held.length === 4 ? true : undefined))
    expect(held[0]?.url).toMatch(/\/v1\/services\/default\/a\?wait=v1$/)
    // Well past the client's 1 s request timeout: a watch may be held for Resolution.HOLD_MS.
    await new Promise((r) => setTimeout(r, 1200))
    expect(await Effect.runPromise(client.register(registrationOf("pod-a")))).toEqual({
      ttlSeconds: 30,
      renewAfterSeconds: 10,
    })
    for (const h of held) h.release()
    expect(await Promise.all(watches)).toEqual(
      Array.from({ length: 4 }, () => ({ providers: [], version: "v2" })),
    )
  })
})
