import { HostLoopback, Registration, Resolution } from "@beemesh/contract"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { Registration as DirectoryRegistration } from "../Directory"
import { makeChangeSignals } from "../RegistryDirectory"
import { issuePodToken } from "../Tokens"
import { type ApiOptions, makeApi } from "./Api"

const OPERATOR = "o".repeat(43)
const KEY = "k".repeat(43)
const web0 = { namespace: "shop", workload: "web", pod: "web-0" }
/** The pod web-0 runs at generation g1, its sidecar published on 127.0.0.1:41000. */
const webToken = issuePodToken(KEY, web0, "g1")

const calls: Array<string> = []
/** Services that record being reached: these tests are about requests refused before that. */
const unreachable = (name: string) => () => {
  calls.push(name)
  return Effect.die(`${name} must not be reached`)
}

const options: ApiOptions = {
  workloads: {
    apply: unreachable("apply"),
    list: unreachable("list"),
    get: (namespace, name) =>
      Effect.succeed({
        namespace,
        name,
        kind: "Deployment" as const,
        replicas: 1,
        services: [{ name: "web", port: 80 }],
        desired: 1,
        ready: 1,
        updated: 1,
        available: 1,
        conditions: [],
        pods: [],
      }),
    remove: unreachable("remove"),
    orphans: unreachable("orphans"),
    configs: unreachable("configs"),
    removeConfig: unreachable("removeConfig"),
    services: unreachable("services"),
    removeService: unreachable("removeService"),
    registered: () => Effect.void,
    live: (identity) =>
      Effect.succeed(
        identity.namespace === "shop" && identity.workload === "web" && identity.pod === "web-0"
          ? { generation: "g1", hostPort: 41000 }
          : undefined,
      ),
  },
  manifests: { put: unreachable("putManifest"), get: unreachable("getManifest") },
  directory: {
    register: unreachable("register"),
    unregister: unreachable("unregister"),
    resolve: unreachable("resolve"),
  },
  operatorToken: OPERATOR,
  podTokenKey: KEY,
  addresses: { advertiseHost: "127.0.0.1", relays: [] },
  metricsToken: "m".repeat(43),
  health: async () => ({ ok: true }),
  metrics: async () => "",
  maxManifestBytes: 4096,
}
const api = makeApi(options)

const request = async (method: string, path: string, token: string | undefined, body?: string) => {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  const response = await api.request(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  })
  return {
    status: response.status,
    json: (await response.json()) as { error: string; message: string },
  }
}

const registration = (
  services: Array<{ name: string; port: number }>,
  pod = "web-0",
  workload = "web",
) =>
  JSON.stringify({
    namespace: "shop",
    workload,
    pod,
    peerId: "12D3KooWx",
    multiaddrs: [],
    services,
  })

describe("agent HTTP API refusals (nothing reaches the workloads or the registry)", () => {
  it.each([
    ["no token", "POST", "/v1/workloads", undefined, "x", 401, /Authorization: Bearer/],
    ["a wrong token", "GET", "/v1/workloads", "nope", undefined, 401, /not valid for this agent/],
    [
      "a pod token on workloads",
      "GET",
      "/v1/workloads",
      webToken,
      undefined,
      403,
      /operator token/,
    ],
    ["invalid YAML", "POST", "/v1/workloads", OPERATOR, "kind: [", 400, /not valid YAML or JSON/],
    [
      "an unknown kind",
      "POST",
      "/v1/workloads",
      OPERATOR,
      "{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: s}}",
      400,
      /unsupported kind networking.k8s.io\/v1 Ingress/,
    ],
    [
      "a hostPort",
      "POST",
      "/v1/workloads",
      OPERATOR,
      "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a, image: i, ports: [{containerPort: 80, hostPort: 80}]}]}}",
      400,
      /only the sidecar is ever published/,
    ],
    ["a huge body", "POST", "/v1/workloads", OPERATOR, "#".repeat(5000), 413, /exceeds 4096 bytes/],
    [
      "the operator registering services",
      "PUT",
      "/v1/pods/web-0/services",
      OPERATOR,
      registration([]),
      403,
      /pod's own token/,
    ],
    [
      "another pod's path",
      "PUT",
      "/v1/pods/web-1/services",
      webToken,
      registration([]),
      403,
      /belongs to pod web-0, not web-1/,
    ],
    [
      "another workload in the body",
      "PUT",
      "/v1/pods/web-0/services",
      webToken,
      registration([], "web-0", "orders"),
      403,
      /the body names shop\/orders\/web-0/,
    ],
    [
      "another workload's service",
      "PUT",
      "/v1/pods/web-0/services",
      webToken,
      registration([{ name: "orders", port: 80 }]),
      403,
      /may register only its own services \(web=80\), not orders=80/,
    ],
    [
      "a malformed registration",
      "PUT",
      "/v1/pods/web-0/services",
      webToken,
      "{}",
      400,
      /registration:/,
    ],
    ["no token on resolve", "GET", "/v1/services/shop/orders", undefined, undefined, 401, /Bearer/],
    [
      "a pod token on manifests",
      "GET",
      "/v1/manifests/shop/web",
      webToken,
      undefined,
      403,
      /operator token/,
    ],
    [
      "an invalid manifest to store",
      "PUT",
      "/v1/manifests/shop/web",
      OPERATOR,
      "kind: [",
      400,
      /not valid YAML/,
    ],
    [
      "a Secret to store in the DHT",
      "PUT",
      "/v1/manifests/shop/web",
      OPERATOR,
      "{apiVersion: v1, kind: Secret, metadata: {name: db, namespace: shop}, stringData: {p: x}}",
      400,
      /Secret shop\/db cannot be stored in the DHT, which every agent of the mesh reads unencrypted/,
    ],
    [
      "an unknown kind on the configs route",
      "DELETE",
      "/v1/configs/pods/shop/web",
      OPERATOR,
      undefined,
      404,
      /no kind pods; use configmaps, secrets or services/,
    ],
    ["a pod token on configs", "GET", "/v1/configs", webToken, undefined, 403, /operator token/],
    [
      "an unknown route",
      "GET",
      "/v1/nothing",
      OPERATOR,
      undefined,
      404,
      /no route GET \/v1\/nothing/,
    ],
  ])("refuses %s", async (_, method, path, token, body, status, message) => {
    calls.length = 0
    const response = await request(method, path, token, body)
    expect(response.status).toBe(status)
    expect(response.json.message).toMatch(message)
    expect(calls).toEqual([])
  })
})

const registered: Array<DirectoryRegistration> = []
const podApi = makeApi({
  ...options,
  directory: {
    register: (registration) =>
      Effect.sync(() => registered.push(registration)).pipe(
        Effect.as({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      ),
    unregister: () => Effect.void,
    resolve: () =>
      Effect.succeed([
        {
          peerId: "12D3KooWweb",
          multiaddrs: ["/ip4/127.0.0.1/tcp/41000/p2p/12D3KooWweb", "/ip4/192.0.2.7/tcp/41001"],
          pod: "web-0",
          workload: "web",
        },
      ]),
  },
  addressForPods: (address) => HostLoopback.forPods(address, "10.0.2.2"),
})

const call = (method: string, path: string, body?: unknown) =>
  podApi.request(path, {
    method,
    headers: { authorization: `Bearer ${webToken}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

describe("the agent's pod API speaks the contract the sidecar uses", () => {
  it("registers at the contract's path and answers with a Lease", async () => {
    const body: Registration.Registration = {
      namespace: "shop",
      workload: "web",
      pod: "web-0",
      peerId: "12D3KooWweb",
      multiaddrs: ["/ip4/127.0.0.1/tcp/41000"],
      services: [{ name: "web", port: 80 }],
    }
    registered.length = 0
    const response = await call("PUT", Registration.path("web-0"), body)
    expect(response.status).toBe(Registration.REGISTERED)
    expect(Schema.decodeUnknownSync(Registration.Lease)(await response.json())).toEqual({
      ttlSeconds: 30,
      renewAfterSeconds: 10,
    })
    expect(registered).toEqual([
      {
        identity: { namespace: "shop", workload: "web", pod: "web-0" },
        peerId: body.peerId,
        multiaddrs: body.multiaddrs,
        services: body.services,
      },
    ])
  })

  it("during an update, a replica may renew a service of a version still running, and no other", async () => {
    const updating = makeApi({
      ...options,
      workloads: {
        ...options.workloads,
        get: (namespace, name) =>
          options.workloads.get(namespace, name).pipe(
            Effect.map((status) => ({
              ...status,
              registrable: [...status.services, { name: "orders", port: 8088 }],
            })),
          ),
      },
      directory: {
        ...options.directory,
        register: () => Effect.succeed({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      },
    })
    const put = (services: Array<{ name: string; port: number }>) =>
      updating.request(Registration.path("web-0"), {
        method: "PUT",
        headers: { authorization: `Bearer ${webToken}` },
        body: registration(services),
      })
    expect((await put([{ name: "orders", port: 8088 }])).status).toBe(Registration.REGISTERED)
    expect((await put([{ name: "orders", port: 9999 }])).status).toBe(403)
  })

  it("hands the sidecar its membership chain with the lease, for its peer id and renewal interval", async () => {
    const asked: Array<unknown> = []
    const certifying = makeApi({
      ...options,
      directory: {
        ...options.directory,
        register: () => Effect.succeed({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      },
      certify: (identity, peerId, renewAfterSeconds) =>
        Effect.sync(() => asked.push({ identity, peerId, renewAfterSeconds })).pipe(
          Effect.as({ certificates: ["bmc1.agent.sig", "bmc1.sidecar.sig"] }),
        ),
    })
    const response = await certifying.request(Registration.path("web-0"), {
      method: "PUT",
      headers: { authorization: `Bearer ${webToken}` },
      body: JSON.stringify({
        namespace: "shop",
        workload: "web",
        pod: "web-0",
        peerId: "12D3KooWweb",
        multiaddrs: ["/ip4/127.0.0.1/tcp/41000"],
        services: [{ name: "web", port: 80 }],
      }),
    })
    expect(response.status).toBe(Registration.REGISTERED)
    expect(Schema.decodeUnknownSync(Registration.Lease)(await response.json())).toEqual({
      ttlSeconds: 30,
      renewAfterSeconds: 10,
      certificates: ["bmc1.agent.sig", "bmc1.sidecar.sig"],
    })
    expect(asked).toEqual([
      {
        identity: { namespace: "shop", workload: "web", pod: "web-0" },
        peerId: "12D3KooWweb",
        renewAfterSeconds: 10,
      },
    ])
  })

  it("unregisters at the contract's path", async () => {
    const response = await call("DELETE", Registration.path("web-0"))
    expect(response.status).toBe(Registration.UNREGISTERED)
  })

  it("refuses a registration that breaks the contract as RegistrationInvalid (400)", async () => {
    const response = await call("PUT", Registration.path("web-0"), { pod: "web-0" })
    expect(response.status).toBe(400)
    const answer = (await response.json()) as { error: string; message: string }
    expect(answer.error).toBe("RegistrationInvalid")
    expect(answer.message).toMatch(/^registration: /)
  })

  it("resolves for a pod with its host's loopback replaced by the pod network's gateway", async () => {
    const response = await call("GET", Resolution.path("shop", "web"))
    expect(response.status).toBe(Resolution.RESOLVED)
    const answer = Schema.decodeUnknownSync(Resolution.ResolveResponse)(await response.json())
    expect(answer.providers[0]?.multiaddrs).toEqual([
      "/ip4/10.0.2.2/tcp/41000/p2p/12D3KooWweb",
      "/ip4/192.0.2.7/tcp/41001",
    ])
  })

  it("holds a watch until the providers change, then answers the new set as the pod sees it", async () => {
    const providers: Array<Resolution.Provider> = []
    const signals = makeChangeSignals(60_000)
    const watching = makeApi({
      ...options,
      directory: {
        register: unreachable("register"),
        unregister: unreachable("unregister"),
        resolve: () => Effect.sync(() => [...providers]),
        changes: signals.changes,
      },
      addressForPods: (address) => HostLoopback.forPods(address, "10.0.2.2"),
    })
    const get = async (path: string) => {
      const response = await watching.request(path, {
        headers: { authorization: `Bearer ${webToken}` },
      })
      expect(response.status).toBe(Resolution.RESOLVED)
      return Schema.decodeUnknownSync(Resolution.ResolveResponse)(await response.json())
    }
    const first = await get(Resolution.path("shop", "web"))
    expect(first.providers).toEqual([])
    const version = first.version ?? "none"
    expect(version).not.toBe("none")
    let answered = false
    const held = get(Resolution.watchPath("shop", "web", version)).then((answer) => {
      answered = true
      return answer
    })
    await new Promise((r) => setTimeout(r, 50))
    expect(answered).toBe(false)
    expect(signals.waiting()).toBe(1)
    providers.push({
      peerId: "12D3KooWweb",
      multiaddrs: ["/ip4/127.0.0.1/tcp/41000/p2p/12D3KooWweb"],
      pod: "web-0",
      workload: "web",
    })
    signals.signal("shop", "web")
    const next = await held
    expect(next.providers[0]?.multiaddrs).toEqual(["/ip4/10.0.2.2/tcp/41000/p2p/12D3KooWweb"])
    expect(next.version).not.toBe(version)
    // A version that is not the current one is answered at once.
    expect((await get(Resolution.watchPath("shop", "web", version))).version).toBe(next.version)
    expect(signals.waiting()).toBe(0)
  })
})

describe("a pod token counts only while its pod runs at the generation it was issued for", () => {
  const refused = async (token: string, method = "PUT") => {
    calls.length = 0
    const response = await request(
      method,
      Registration.path("web-0"),
      token,
      method === "PUT" ? registration([{ name: "web", port: 80 }]) : undefined,
    )
    expect(calls).toEqual([])
    return response
  }

  it("refuses the token of an earlier pod of the same name (recreated since), on every pod route", async () => {
    const earlier = issuePodToken(KEY, web0, "g0")
    for (const method of ["PUT", "DELETE"]) {
      const response = await refused(earlier, method)
      expect(response.status).toBe(401)
      expect(response.json.error).toBe("PodTokenRevoked")
      expect(response.json.message).toMatch(
        /earlier pod shop\/web\/web-0, since deleted or recreated/,
      )
    }
    const resolve = await request("GET", Resolution.path("shop", "orders"), earlier)
    expect(resolve.status).toBe(401)
  })

  it("refuses a token from before generations once the pod has one", async () => {
    const response = await refused(issuePodToken(KEY, web0))
    expect([response.status, response.json.error]).toEqual([401, "PodTokenRevoked"])
  })

  it("refuses a well-signed token for a pod this agent does not run", async () => {
    const response = await refused(issuePodToken(KEY, { ...web0, pod: "web-7" }, "g1"))
    expect(response.status).toBe(401)
    expect(response.json.message).toMatch(/pod shop\/web\/web-7, which this agent does not run/)
  })
})

describe("a registration's addresses are the ones the agent gave the pod", () => {
  const registeredAt = (multiaddrs: ReadonlyArray<string>, api = podApi) =>
    api.request(Registration.path("web-0"), {
      method: "PUT",
      headers: { authorization: `Bearer ${webToken}` },
      body: JSON.stringify({
        namespace: "shop",
        workload: "web",
        pod: "web-0",
        peerId: "12D3KooWweb",
        multiaddrs,
        services: [{ name: "web", port: 80 }],
      }),
    })

  it.each([
    ["another port of the host", "/ip4/127.0.0.1/tcp/41001"],
    ["another host", "/ip4/192.0.2.9/tcp/41000"],
    ["the right port with another peer id", "/ip4/127.0.0.1/tcp/41000/p2p/12D3KooWother"],
    ["a relay the agent does not use", "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWrelay/p2p-circuit"],
  ])("refuses %s with 422 naming the address, and registers nothing", async (_, address) => {
    registered.length = 0
    const response = await registeredAt(["/ip4/127.0.0.1/tcp/41000", address])
    expect(response.status).toBe(422)
    const answer = (await response.json()) as { error: string; message: string }
    expect(answer.error).toBe("RegistrationAddressRefused")
    expect(answer.message).toContain(`address ${address} is not this pod's`)
    expect(answer.message).toContain("/ip4/127.0.0.1/tcp/41000")
    expect(registered).toEqual([])
  })

  it("accepts its published port with its own peer id, and circuits through the agent's relays", async () => {
    const relay = "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWrelay"
    const natted = makeApi({
      ...options,
      directory: {
        ...options.directory,
        register: () => Effect.succeed({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      },
      addresses: { advertiseHost: "127.0.0.1", relays: [relay] },
    })
    const response = await registeredAt(
      ["/ip4/127.0.0.1/tcp/41000/p2p/12D3KooWweb", `${relay}/p2p-circuit/p2p/12D3KooWweb`],
      natted,
    )
    expect(response.status).toBe(Registration.REGISTERED)
  })
})

describe("what /health and /metrics tell whom", () => {
  const detailed = makeApi({
    ...options,
    health: async () => ({
      ok: true,
      peerId: "12D3KooWagent",
      multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
      validation: { checks: [] },
    }),
    metrics: async () => 'beemesh_workload_replicas{namespace="shop",workload="web"} 1\n',
  })
  const get = (path: string, token?: string) =>
    detailed.request(
      path,
      token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
    )

  it("/health without the operator token: only whether the agent is ok, and its peer id", async () => {
    for (const token of [undefined, webToken, "m".repeat(43)]) {
      const response = await get("/health", token)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({ ok: true, peerId: "12D3KooWagent" })
    }
    const full = await (await get("/health", OPERATOR)).json()
    expect(full).toMatchObject({ multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], validation: {} })
  })

  it("/metrics needs the metrics or the operator token; a pod token or none is refused", async () => {
    for (const token of [undefined, webToken, "x".repeat(43)]) {
      const response = await get("/metrics", token)
      expect(response.status).toBe(401)
      expect(await response.text()).toMatch(/metrics-token in the agent's data directory/)
    }
    for (const token of ["m".repeat(43), OPERATOR]) {
      const response = await get("/metrics", token)
      expect(response.status).toBe(200)
      expect(await response.text()).toContain('workload="web"')
    }
  })
})
