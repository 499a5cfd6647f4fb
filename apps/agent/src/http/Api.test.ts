import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { issuePodToken } from "../Tokens"
import { makeApi } from "./Api"

const OPERATOR = "o".repeat(43)
const KEY = "k".repeat(43)
const webToken = issuePodToken(KEY, { namespace: "shop", workload: "web", pod: "web-0" })

const calls: Array<string> = []
/** Services that record being reached: these tests are about requests refused before that. */
const unreachable = (name: string) => () => {
  calls.push(name)
  return Effect.die(`${name} must not be reached`)
}

const api = makeApi({
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
        ready: 1,
        pods: [],
      }),
    remove: unreachable("remove"),
  },
  manifests: { put: unreachable("putManifest"), get: unreachable("getManifest") },
  directory: {
    register: unreachable("register"),
    unregister: unreachable("unregister"),
    resolve: unreachable("resolve"),
  },
  operatorToken: OPERATOR,
  podTokenKey: KEY,
  health: async () => ({ ok: true }),
  metrics: async () => "",
  maxManifestBytes: 4096,
})

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
      "{apiVersion: v1, kind: Service, metadata: {name: s}}",
      400,
      /unsupported kind v1 Service/,
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
