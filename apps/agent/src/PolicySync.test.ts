import type { NetworkPolicy } from "@beemesh/contract"
import { Context, Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { NetworkPolicies } from "./NetworkPolicies"
import { POLICY_RECORD, type PolicyRecords, runPolicySync } from "./PolicySync"

const policy = (name: string): NetworkPolicy.Policy => ({
  namespace: "shop",
  name,
  podSelector: { matchLabels: { app: "api" } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }] }],
})

/** The DHT's manifests as a map: newest put wins (as the registry's sequence does). */
const sharedRecords = () => {
  const stored = new Map<string, string>()
  const records: PolicyRecords = {
    put: (namespace, name, content) =>
      Effect.sync(() => {
        stored.set(`${namespace}/${name}`, content)
      }),
    get: (namespace, name) => {
      const content = stored.get(`${namespace}/${name}`)
      return content === undefined ? Effect.fail("not found") : Effect.succeed({ content })
    },
  }
  return { stored, records }
}

const agent = (records: PolicyRecords, namespaces: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = Context.get(yield* Layer.build(NetworkPolicies.memory), NetworkPolicies)
    yield* runPolicySync({
      store,
      records,
      namespaces: () => Effect.succeed(namespaces),
      intervalMs: 200,
    })
    return store
  })

const until = (what: string, check: () => boolean, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  })

describe("PolicySync", () => {
  it("a policy applied on one agent reaches an agent serving the namespace within the poll interval; a removal too", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { stored, records } = sharedRecords()
          const a = yield* agent(records, [])
          const b = yield* agent(records, ["shop"])
          const elsewhere = yield* agent(records, ["other"])
          yield* a.apply([policy("api-from-web")])
          const appliedAt = Date.now()
          yield* until("b to adopt", () => b.forNamespace("shop").policies.length === 1, 5_000)
          // Published at the next 1 s tick, polled every 200 ms.
          expect(Date.now() - appliedAt).toBeLessThan(2_000)
          expect(b.forNamespace("shop")).toEqual(a.forNamespace("shop"))
          expect(stored.has(`shop/${POLICY_RECORD}`)).toBe(true)
          expect(elsewhere.forNamespace("shop").version).toBe(0)

          yield* a.remove("shop", "api-from-web")
          yield* until(
            "b to adopt the removal",
            () => b.forNamespace("shop").policies.length === 0,
            5_000,
          )
          expect(b.forNamespace("shop").version).toBe(a.forNamespace("shop").version)
        }),
      ),
    )
  }, 15_000)

  it("an older set never replaces a newer one, and a record that is not a set is ignored", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { stored, records } = sharedRecords()
          const b = yield* agent(records, ["shop"])
          yield* b.apply([policy("local")])
          const local = b.forNamespace("shop")
          yield* until(
            "b to publish its set",
            () => stored.get(`shop/${POLICY_RECORD}`)?.includes(String(local.version)) === true,
            5_000,
          )
          stored.set(
            `shop/${POLICY_RECORD}`,
            JSON.stringify({ namespace: "shop", version: 1, policies: [policy("stale")] }),
          )
          yield* Effect.sleep("600 millis")
          expect(b.forNamespace("shop")).toEqual(local)
          stored.set(`shop/${POLICY_RECORD}`, "apiVersion: v1\nkind: Pod\n")
          yield* Effect.sleep("600 millis")
          expect(b.forNamespace("shop")).toEqual(local)
        }),
      ),
    )
  }, 15_000)
})
