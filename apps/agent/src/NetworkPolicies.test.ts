import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { NetworkPolicy, Registration } from "@beemesh/contract"
import { Effect, Exit, type Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { makeApi } from "./http/Api"
import { NetworkPolicies } from "./NetworkPolicies"
import { issuePodToken } from "./Tokens"

const policy = (namespace: string, name: string, app = "api"): NetworkPolicy.Policy => ({
  namespace,
  name,
  podSelector: { matchLabels: { app } },
  ingress: [],
})

const withStore = <A, E>(
  layer: Layer.Layer<NetworkPolicies, unknown>,
  body: (store: NetworkPolicies["Service"]) => Effect.Effect<A, E>,
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      return yield* body(yield* NetworkPolicies)
    }).pipe(Effect.provide(layer)),
  )

const dirs: string[] = []
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

describe("NetworkPolicies", () => {
  it("applies, replaces by name, lists, removes; each change of a namespace raises its version", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.gen(function* () {
        expect(store.forNamespace("shop")).toEqual({ namespace: "shop", version: 0, policies: [] })
        yield* store.apply([policy("shop", "a"), policy("shop", "b"), policy("other", "a")])
        const v1 = store.forNamespace("shop").version
        expect(v1).toBeGreaterThan(0)
        yield* store.apply([policy("shop", "a", "db")])
        const v2 = store.forNamespace("shop")
        expect(v2.version).toBeGreaterThan(v1)
        expect(v2.policies.map((p) => [p.name, p.podSelector.matchLabels?.app])).toEqual([
          ["b", "api"],
          ["a", "db"],
        ])
        expect((yield* store.list()).length).toBe(3)
        yield* store.remove("shop", "b")
        yield* store.remove("shop", "a")
        const emptied = store.forNamespace("shop")
        expect(emptied.policies).toEqual([])
        expect(emptied.version).toBeGreaterThan(v2.version)
        const missing = yield* Effect.exit(store.remove("shop", "a"))
        expect(Exit.isFailure(missing) && String(missing.cause)).toMatch(
          /NetworkPolicy shop\/a does not exist/,
        )
      }),
    )
  })

  it("undoing an apply puts back what was", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.gen(function* () {
        yield* store.apply([policy("shop", "a")])
        const undo = yield* store.apply([policy("shop", "a", "db"), policy("shop", "c")])
        yield* undo
        expect(store.forNamespace("shop").policies).toEqual([policy("shop", "a")])
      }),
    )
  })

  it("keeps its policies in a file across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-policies-"))
    dirs.push(dir)
    const file = join(dir, "networkpolicies.json")
    await withStore(NetworkPolicies.layer(file), (store) => store.apply([policy("shop", "a")]))
    expect(JSON.parse(await readFile(file, "utf8")).sets[0].policies[0].name).toBe("a")
    const again = await withStore(NetworkPolicies.layer(file), (store) =>
      Effect.sync(() => store.forNamespace("shop")),
    )
    expect(again.policies).toEqual([policy("shop", "a")])
  })

  it("refuses an unreadable file with what to do", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-policies-"))
    dirs.push(dir)
    const file = join(dir, "networkpolicies.json")
    await import("node:fs/promises").then((fs) => fs.writeFile(file, "{"))
    const exit = await Effect.runPromiseExit(
      Effect.provide(
        Effect.gen(function* () {
          return yield* NetworkPolicies
        }),
        NetworkPolicies.layer(file),
      ),
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(
      /is unusable.*apply the NetworkPolicies again/,
    )
  })
})

describe("NetworkPolicies through the API", () => {
  const OPERATOR = "o".repeat(43)
  const POLICY =
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n"
  const POD =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec:\n  containers: [{name: web, image: docker.io/library/busybox:1.36}]\n"

  const apiWith = (store: NetworkPolicies["Service"], applyFails: boolean) =>
    makeApi({
      workloads: {
        apply: () => (applyFails ? Effect.die("the workloads failed") : Effect.succeed([])),
        registered: () => Effect.void,
        live: () => Effect.succeed({ generation: "", hostPort: 41000 }),
        get: (namespace: string, name: string) => Effect.succeed({ namespace, name, services: [] }),
      } as never,
      networkPolicies: store,
      manifests: {} as never,
      directory: {
        register: () => Effect.succeed({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      } as never,
      operatorToken: OPERATOR,
      podTokenKey: "k".repeat(43),
      addresses: { advertiseHost: "127.0.0.1", relays: [] },
      health: async () => ({ ok: true }),
      metrics: async () => "",
    })
  const call = (api: ReturnType<typeof makeApi>, method: string, path: string, body?: string) =>
    api.request(path, {
      method,
      headers: { authorization: `Bearer ${OPERATOR}` },
      ...(body === undefined ? {} : { body }),
    })

  it("applies, lists and deletes a policy", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.promise(async () => {
        const api = apiWith(store, false)
        const applied = await call(api, "POST", "/v1/workloads", POLICY)
        expect(applied.status).toBe(201)
        expect(await applied.json()).toMatchObject({
          networkPolicies: [{ namespace: "shop", name: "deny" }],
        })
        const listed = await (await call(api, "GET", "/v1/networkpolicies")).json()
        expect(listed).toEqual({
          networkPolicies: [{ namespace: "shop", name: "deny", podSelector: {}, ingress: [] }],
        })
        expect((await call(api, "DELETE", "/v1/networkpolicies/shop/deny")).status).toBe(204)
        const gone = await call(api, "DELETE", "/v1/networkpolicies/shop/deny")
        expect(gone.status).toBe(404)
      }),
    )
  })

  it("hands a registering sidecar its namespace's policies with the lease", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.promise(async () => {
        const api = apiWith(store, false)
        expect((await call(api, "POST", "/v1/workloads", POLICY)).status).toBe(201)
        const token = issuePodToken("k".repeat(43), {
          namespace: "shop",
          workload: "web",
          pod: "web-0",
        })
        const response = await api.request("/v1/pods/web-0/services", {
          method: "PUT",
          headers: { authorization: `Bearer ${token}` },
          body: JSON.stringify({
            namespace: "shop",
            workload: "web",
            pod: "web-0",
            peerId: "12D3KooWx",
            multiaddrs: [],
            services: [],
          }),
        })
        expect(response.status).toBe(200)
        const lease = (await response.json()) as Registration.Lease
        expect(lease.networkPolicies?.namespace).toBe("shop")
        expect(lease.networkPolicies?.version).toBe(store.forNamespace("shop").version)
        expect(lease.networkPolicies?.policies.map((p) => p.name)).toEqual(["deny"])
      }),
    )
  })

  it("refuses a manifest stored under the name agents share policies at", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.promise(async () => {
        const response = await call(
          apiWith(store, false),
          "PUT",
          "/v1/manifests/shop/beemesh-networkpolicies",
          POD,
        )
        expect(response.status).toBe(400)
        expect(((await response.json()) as { message: string }).message).toMatch(
          /where agents share a namespace's NetworkPolicies; choose another name/,
        )
      }),
    )
  })

  it("keeps nothing of a request whose workloads fail (all or nothing)", async () => {
    await withStore(NetworkPolicies.memory, (store) =>
      Effect.promise(async () => {
        const api = apiWith(store, true)
        const applied = await call(api, "POST", "/v1/workloads", `${POLICY}---\n${POD}`)
        expect(applied.status).toBe(500)
        expect(store.forNamespace("shop").policies).toEqual([])
      }),
    )
  })
})
