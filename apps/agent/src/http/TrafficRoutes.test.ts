import { Registration } from "@beemesh/contract"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { ServiceTraffic, type TrafficView } from "../ServiceTraffic"
import { issuePodToken } from "../Tokens"
import { makeApi } from "./Api"
import { trafficRoutes } from "./TrafficRoutes"

const OPERATOR = "o".repeat(43)
const KEY = "k".repeat(43)
const webToken = issuePodToken(KEY, { namespace: "shop", workload: "web", pod: "web-0" }, "g1")

const makeAgent = () => {
  const traffic = new ServiceTraffic()
  const app = makeApi({
    workloads: {
      apply: () => Effect.die("unused"),
      list: () => Effect.die("unused"),
      get: (namespace, name) =>
        Effect.succeed({
          namespace,
          name,
          kind: "Pod" as const,
          replicas: 1,
          services: [],
          desired: 1,
          ready: 1,
          updated: 1,
          available: 1,
          conditions: [],
          pods: [],
        }),
      remove: () => Effect.die("unused"),
      orphans: () => Effect.die("unused"),
      configs: () => Effect.die("unused"),
      removeConfig: () => Effect.die("unused"),
      services: () => Effect.die("unused"),
      removeService: () => Effect.die("unused"),
      registered: () => Effect.void,
      live: () => Effect.succeed({ generation: "g1", hostPort: 41000 }),
    },
    manifests: { put: () => Effect.die("unused"), get: () => Effect.die("unused") },
    directory: {
      register: () => Effect.succeed({ ttlSeconds: 3, renewAfterSeconds: 1 }),
      unregister: () => Effect.void,
      resolve: () => Effect.succeed([]),
    },
    traffic,
    operatorToken: OPERATOR,
    podTokenKey: KEY,
    addresses: { advertiseHost: "127.0.0.1", relays: [] },
    health: async () => ({ ok: true }),
    metrics: async () => "",
    routes: [
      ["/v1/traffic", trafficRoutes({ operatorToken: OPERATOR, traffic: () => traffic.view() })],
    ],
  })
  const send = (method: string, path: string, token: string, body?: unknown) =>
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  return { send }
}

const renewal = (connections: number) => ({
  namespace: "shop",
  workload: "web",
  pod: "web-0",
  peerId: "12D3KooWx",
  multiaddrs: [],
  services: [],
  traffic: {
    version: 1,
    entries: [
      {
        direction: "outbound",
        service: "orders",
        callee: "orders",
        connections,
        bytesSent: 10 * connections,
        bytesReceived: 20 * connections,
        errors: 0,
        refused: 0,
        setupBuckets: Array(14).fill(0),
        setupSumSeconds: 0,
      },
    ],
  },
})

describe("traffic reports through the pod API, read back on /v1/traffic", () => {
  it("a renewal's report shows as the web→orders series; unregistering keeps its totals", async () => {
    const { send } = makeAgent()
    const path = Registration.path("web-0")
    expect((await send("PUT", path, webToken, renewal(2))).status).toBe(Registration.REGISTERED)
    expect((await send("PUT", path, webToken, renewal(5))).status).toBe(Registration.REGISTERED)
    const read = async () =>
      ((await (await send("GET", "/v1/traffic", OPERATOR)).json()) as TrafficView).series
    expect(await read()).toEqual([
      expect.objectContaining({
        namespace: "shop",
        service: "orders",
        caller: "web",
        callee: "orders",
        reporter: "caller",
        connections: 5,
        bytesSent: 50,
        bytesReceived: 100,
      }),
    ])
    expect((await send("DELETE", path, webToken)).status).toBe(Registration.UNREGISTERED)
    expect((await read())[0]?.connections).toBe(5)
  })

  it("needs the operator token; a pod token cannot read it", async () => {
    const { send } = makeAgent()
    expect((await send("GET", "/v1/traffic", webToken)).status).toBe(401)
  })

  it("a report that breaks the contract refuses the whole registration with 400", async () => {
    const { send } = makeAgent()
    const bad = { ...renewal(1), traffic: { version: 9, entries: [] } }
    const response = await send("PUT", Registration.path("web-0"), webToken, bad)
    expect(response.status).toBe(400)
    expect(await response.text()).toMatch(/traffic/)
  })
})
