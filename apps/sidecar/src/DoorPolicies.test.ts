import type { NetworkPolicy } from "@beemesh/contract"
import { Effect, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { waitFor } from "../test/support/net"
import { startStandInAgent } from "../test/support/StandInAgent"
import { AgentClient } from "./AgentClient"
import { PolicyHolder } from "./DoorPolicies"
import { Registrar } from "./Registrar"

const set = (version: number, names: string[]): NetworkPolicy.PolicySet => ({
  namespace: "shop",
  version,
  policies: names.map((name) => ({ namespace: "shop", name, podSelector: {}, ingress: [] })),
})

describe("PolicyHolder", () => {
  it("keeps the newest set and the same array while nothing newer arrives", () => {
    const holder = new PolicyHolder()
    expect(holder.policies()).toEqual([])
    expect(holder.offer(set(5, ["a"]))).toBe(true)
    const first = holder.policies()
    expect(holder.offer(set(5, ["a"]))).toBe(false)
    expect(holder.offer(undefined)).toBe(false)
    expect(holder.policies()).toBe(first)
    expect(holder.offer(set(3, ["old"]))).toBe(false)
    expect(holder.policies().map((p) => p.name)).toEqual(["a"])
    expect(holder.offer(set(9, []))).toBe(true)
    expect(holder.policies()).toEqual([])
    expect(holder.version()).toBe(9)
  })

  it("gets the agent's policies with every lease: a change arrives within renewAfterSeconds", async () => {
    let current = set(1, ["deny"])
    const agent = await startStandInAgent({
      tokens: { "web-0": "token-web-0123456789abcdef" },
      ttlSeconds: 2,
      renewAfterSeconds: 1,
      networkPolicies: () => current,
    })
    const holder = new PolicyHolder()
    const client = AgentClient.make({
      agentUrl: agent.url,
      podToken: Redacted.make("token-web-0123456789abcdef"),
      namespace: "shop",
      pod: "web-0",
    })
    try {
      await Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            yield* Registrar.make(
              client,
              {
                namespace: "shop",
                workload: "web",
                pod: "web-0",
                peerId: "12D3KooWexample",
                multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
                services: [{ name: "web", port: 80 }],
              },
              { onLease: (lease) => holder.offer(lease.networkPolicies) },
            )
            yield* Effect.promise(() =>
              waitFor("the first set", () => (holder.version() === 1 ? true : undefined), 5_000),
            )
            expect(holder.policies().map((p) => p.name)).toEqual(["deny"])
            current = set(2, ["allow-frontend"])
            const changedAt = Date.now()
            yield* Effect.promise(() =>
              waitFor("the changed set", () => (holder.version() === 2 ? true : undefined), 5_000),
            )
            // Renewed every 0.8 s (renewAfterSeconds, at most 80 % of the TTL).
            expect(Date.now() - changedAt).toBeLessThan(1_500)
            expect(holder.policies().map((p) => p.name)).toEqual(["allow-frontend"])
          }),
        ),
      )
    } finally {
      await agent.close()
    }
  })
})
