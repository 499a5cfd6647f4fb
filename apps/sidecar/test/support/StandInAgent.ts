/**
 * A small stand-in for the agent's pod API, started by tests on the host's 127.0.0.1 (pods reach
 * it at 10.0.2.2). It implements exactly the contract (@beemesh/contract Registration and
 * Resolution) and records every call.
 */
import type { AddressInfo } from "node:net"
import { HostLoopback, type NetworkPolicy, Registration, Resolution } from "@beemesh/contract"
import { serve } from "@hono/node-server"
import { Result, Schema } from "effect"
import { Hono } from "hono"

export interface AgentEvent {
  readonly kind: "register" | "renew" | "unregister" | "resolve" | "rejected"
  readonly pod: string
  readonly at: number
  readonly detail?: unknown
}

type Registered = Registration.Registration

export interface StandInAgentOptions {
  /** pod name → the token that pod must present. */
  readonly tokens: Readonly<Record<string, string>>
  readonly ttlSeconds?: number
  readonly renewAfterSeconds?: number
  readonly port?: number
  /**
   * The gateway of the pods' network (10.0.2.2): when set, providers advertised on the host's
   * loopback are answered at that address, as the agent answers its pods. Unset for sidecars
   * that run as processes on the host, which dial the loopback itself.
   */
  readonly gatewayForPods?: string
  /** The NetworkPolicies each lease hands over (read at every answer; none when absent). */
  readonly networkPolicies?: () => NetworkPolicy.PolicySet | undefined
}

export interface StandInAgent {
  readonly port: number
  readonly url: string
  readonly events: ReadonlyArray<AgentEvent>
  readonly registrations: ReadonlyMap<string, Registered>
  /** Answer the next `count` requests with `status` (to exercise retries). */
  readonly failNext: (count: number, status: number) => void
  /** Answer the next `count` renewals `ms` late (an agent, or a host, too busy to answer at once). */
  readonly slowNext: (count: number, ms: number) => void
  readonly close: () => Promise<void>
}

const withPolicies = (set: NetworkPolicy.PolicySet | undefined) =>
  set === undefined ? {} : { networkPolicies: set }

const decodeRegistration = Schema.decodeUnknownResult(Registration.Registration)

export const startStandInAgent = async (options: StandInAgentOptions): Promise<StandInAgent> => {
  const events: Array<AgentEvent> = []
  const registrations = new Map<string, Registered>()
  let failures = { count: 0, status: 503 }
  let slow = { count: 0, ms: 0 }
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
      const decoded = decodeRegistration(await c.req.json().catch(() => undefined))
      if (Result.isFailure(decoded) || decoded.success.pod !== pod)
        return c.json({ error: "bad registration" }, 400)
      const body = decoded.success
      if (registrations.has(pod) && slow.count > 0) {
        const ms = slow.ms
        slow = { ...slow, count: slow.count - 1 }
        await new Promise((resolve) => setTimeout(resolve, ms))
      }
      events.push({
        kind: registrations.has(pod) ? "renew" : "register",
        pod,
        at: Date.now(),
        detail: body,
      })
      registrations.set(pod, body)
      return c.json(
        {
          ttlSeconds: options.ttlSeconds ?? 30,
          renewAfterSeconds: options.renewAfterSeconds ?? 10,
          ...withPolicies(options.networkPolicies?.()),
        } satisfies Registration.Lease,
        Registration.REGISTERED,
      )
    })
    .delete("/v1/pods/:pod/services", (c) => {
      const pod = c.req.param("pod")
      if (bearerPod(c.req.header("authorization")) !== pod)
        return c.json({ error: "bad token" }, 401)
      registrations.delete(pod)
      events.push({ kind: "unregister", pod, at: Date.now() })
      return c.body(null, Registration.UNREGISTERED)
    })
    .get("/v1/services/:namespace/:service", (c) => {
      const pod = bearerPod(c.req.header("authorization"))
      if (pod === undefined) return c.json({ error: "bad token" }, 401)
      const { namespace, service } = c.req.param()
      events.push({ kind: "resolve", pod, at: Date.now(), detail: service })
      const gateway = options.gatewayForPods
      const providers = [...registrations.values()]
        .filter((r) => r.namespace === namespace && r.services.some((s) => s.name === service))
        .map(
          (r): Resolution.Provider => ({
            peerId: r.peerId,
            multiaddrs:
              gateway === undefined
                ? r.multiaddrs
                : r.multiaddrs.map((m) => HostLoopback.forPods(m, gateway)),
            pod: r.pod,
            workload: r.workload,
          }),
        )
      return c.json({ providers } satisfies Resolution.ResolveResponse, Resolution.RESOLVED)
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
    slowNext: (count, ms) => {
      slow = { count, ms }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  }
}
