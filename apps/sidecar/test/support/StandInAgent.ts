/**
 * A small stand-in for the agent's pod API, started by tests on the host's 127.0.0.1 (pods reach
 * it at 10.0.2.2). It implements exactly the contract in the README and records every call.
 */
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { Hono } from "hono"

export interface AgentEvent {
  readonly kind: "register" | "renew" | "unregister" | "resolve" | "rejected"
  readonly pod: string
  readonly at: number
  readonly detail?: unknown
}

interface Registered {
  readonly namespace: string
  readonly workload: string
  readonly pod: string
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly services: ReadonlyArray<{ readonly name: string; readonly port: number }>
}

export interface StandInAgentOptions {
  /** pod name → the token that pod must present. */
  readonly tokens: Readonly<Record<string, string>>
  readonly ttlSeconds?: number
  readonly renewAfterSeconds?: number
  readonly port?: number
}

export interface StandInAgent {
  readonly port: number
  readonly url: string
  readonly events: ReadonlyArray<AgentEvent>
  readonly registrations: ReadonlyMap<string, Registered>
  /** Answer the next `count` requests with `status` (to exercise retries). */
  readonly failNext: (count: number, status: number) => void
  readonly close: () => Promise<void>
}

const isRegistration = (u: unknown): u is Registered => {
  if (typeof u !== "object" || u === null) return false
  const r = u as Record<string, unknown>
  return (
    ["namespace", "workload", "pod", "peerId"].every((k) => typeof r[k] === "string") &&
    Array.isArray(r.multiaddrs) &&
    r.multiaddrs.every((m) => typeof m === "string") &&
    Array.isArray(r.services) &&
    r.services.every(
      (s: unknown) =>
        typeof s === "object" &&
        s !== null &&
        typeof (s as { name?: unknown }).name === "string" &&
        typeof (s as { port?: unknown }).port === "number",
    )
  )
}

export const startStandInAgent = async (options: StandInAgentOptions): Promise<StandInAgent> => {
  const events: Array<AgentEvent> = []
  const registrations = new Map<string, Registered>()
  let failures = { count: 0, status: 503 }
  const tokenPod = new Map(Object.entries(options.tokens).map(([pod, token]) => [token, pod]))

  const bearerPod = (header: string | undefined): string | undefined =>
    header?.startsWith("Bearer ") ? tokenPod.get(header.slice(7)) : undefined

  const app = new Hono()
    .use(async (c, next) => {
      if (failures.count > 0) {
        failures = { ...failures, count: failures.count - 1 }
        events.push({ kind: "rejected", pod: "", at: Date.now(), detail: failures.status })
        return c.json({ error: "injected failure" }, failures.status as 503)
      }
      return next()
    })
    .put("/v1/pods/:pod/services", async (c) => {
      const pod = c.req.param("pod")
      if (bearerPod(c.req.header("authorization")) !== pod)
        return c.json({ error: "bad token" }, 401)
      const body: unknown = await c.req.json().catch(() => undefined)
      if (!isRegistration(body) || body.pod !== pod)
        return c.json({ error: "bad registration" }, 400)
      events.push({
        kind: registrations.has(pod) ? "renew" : "register",
        pod,
        at: Date.now(),
        detail: body,
      })
      registrations.set(pod, body)
      return c.json({
        ttlSeconds: options.ttlSeconds ?? 30,
        renewAfterSeconds: options.renewAfterSeconds ?? 10,
      })
    })
    .delete("/v1/pods/:pod/services", (c) => {
      const pod = c.req.param("pod")
      if (bearerPod(c.req.header("authorization")) !== pod)
        return c.json({ error: "bad token" }, 401)
      registrations.delete(pod)
      events.push({ kind: "unregister", pod, at: Date.now() })
      return c.body(null, 204)
    })
    .get("/v1/services/:namespace/:service", (c) => {
      const pod = bearerPod(c.req.header("authorization"))
      if (pod === undefined) return c.json({ error: "bad token" }, 401)
      const { namespace, service } = c.req.param()
      events.push({ kind: "resolve", pod, at: Date.now(), detail: service })
      const providers = [...registrations.values()]
        .filter((r) => r.namespace === namespace && r.services.some((s) => s.name === service))
        .map((r) => ({
          peerId: r.peerId,
          multiaddrs: r.multiaddrs,
          pod: r.pod,
          workload: r.workload,
        }))
      return c.json({ providers })
    })

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: options.port ?? 0 }, () =>
      resolve(s),
    )
    s.once("error", reject)
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    events,
    registrations,
    failNext: (count, status) => {
      failures = { count, status }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
