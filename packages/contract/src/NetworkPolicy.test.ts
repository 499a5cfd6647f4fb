import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as NetworkPolicy from "./NetworkPolicy.js"

const db: NetworkPolicy.Target = { namespace: "shop", labels: { app: "db" }, port: 5432 }
const api: NetworkPolicy.Target = {
  namespace: "shop",
  labels: { app: "api", tier: "backend" },
  port: 8000,
  portName: "http",
}
const frontend: NetworkPolicy.Caller = { namespace: "shop", labels: { app: "frontend" } }
const worker: NetworkPolicy.Caller = { namespace: "shop", labels: { app: "worker" } }
const monitoring: NetworkPolicy.Caller = { namespace: "monitoring", labels: { app: "prom" } }

const policy = (
  name: string,
  podSelector: NetworkPolicy.LabelSelector,
  ingress: ReadonlyArray<NetworkPolicy.IngressRule>,
  namespace = "shop",
): NetworkPolicy.Policy => ({ namespace, name, podSelector, ingress })

describe("NetworkPolicy.decide", () => {
  it("without a selecting policy admits the same namespace only (the mesh default)", () => {
    expect(NetworkPolicy.decide([], db, worker)).toEqual({ allowed: true, by: "default" })
    const denied = NetworkPolicy.decide([], db, monitoring)
    expect(denied).toMatchObject({ allowed: false, reason: "namespace" })
    if (!denied.allowed) expect(denied.message).toContain('namespace "monitoring"')
  })

  it("deny-all (empty podSelector, no ingress rules) refuses every caller, its own namespace too", () => {
    const denyAll = policy("default-deny-ingress", {}, [])
    expect(NetworkPolicy.decide([denyAll], db, worker)).toMatchObject({
      allowed: false,
      reason: "policy",
    })
    expect(NetworkPolicy.decide([denyAll], api, frontend)).toMatchObject({ allowed: false })
  })

  it("allow-all (one empty rule) admits every caller, other namespaces too", () => {
    const allowAll = policy("allow-all-ingress", {}, [{}])
    expect(NetworkPolicy.decide([allowAll], db, monitoring)).toMatchObject({ allowed: true })
  })

  it("allow from app=frontend admits frontend and refuses the others; unselected pods keep the default", () => {
    const fromFrontend = policy("api-from-frontend", { matchLabels: { app: "api" } }, [
      { from: [{ podSelector: { matchLabels: { app: "frontend" } } }] },
    ])
    expect(NetworkPolicy.decide([fromFrontend], api, frontend)).toEqual({
      allowed: true,
      by: "policy",
      policy: "api-from-frontend",
    })
    expect(NetworkPolicy.decide([fromFrontend], api, worker)).toMatchObject({ allowed: false })
    // A podSelector alone means pods of the policy's namespace: app=frontend elsewhere is refused.
    expect(
      NetworkPolicy.decide([fromFrontend], api, {
        namespace: "other",
        labels: { app: "frontend" },
      }),
    ).toMatchObject({ allowed: false, reason: "policy" })
    // db is selected by no policy: the mesh default.
    expect(NetworkPolicy.decide([fromFrontend], db, worker)).toMatchObject({ allowed: true })
  })

  it("allow from a namespace by its kubernetes.io/metadata.name label", () => {
    const fromMonitoring = policy("db-from-monitoring", { matchLabels: { app: "db" } }, [
      {
        from: [
          {
            namespaceSelector: {
              matchLabels: { [NetworkPolicy.NAMESPACE_NAME_LABEL]: "monitoring" },
            },
          },
        ],
      },
    ])
    expect(NetworkPolicy.decide([fromMonitoring], db, monitoring)).toMatchObject({ allowed: true })
    // Selected now: its own namespace is refused unless a rule admits it (Kubernetes semantics).
    expect(NetworkPolicy.decide([fromMonitoring], db, worker)).toMatchObject({ allowed: false })
  })

  it("namespaceSelector and podSelector in one peer must both match", () => {
    const both = policy("db-from-prom", { matchLabels: { app: "db" } }, [
      {
        from: [
          {
            namespaceSelector: {
              matchLabels: { [NetworkPolicy.NAMESPACE_NAME_LABEL]: "monitoring" },
            },
            podSelector: { matchLabels: { app: "prom" } },
          },
        ],
      },
    ])
    expect(NetworkPolicy.decide([both], db, monitoring)).toMatchObject({ allowed: true })
    expect(
      NetworkPolicy.decide([both], db, { namespace: "monitoring", labels: { app: "grafana" } }),
    ).toMatchObject({ allowed: false })
  })

  it("policies add up: one admitting rule among the selecting policies is enough", () => {
    const denyAll = policy("deny", {}, [])
    const fromFrontend = policy("api-from-frontend", { matchLabels: { app: "api" } }, [
      { from: [{ podSelector: { matchLabels: { app: "frontend" } } }] },
    ])
    expect(NetworkPolicy.decide([denyAll, fromFrontend], api, frontend)).toMatchObject({
      allowed: true,
    })
    expect(NetworkPolicy.decide([denyAll, fromFrontend], db, frontend)).toMatchObject({
      allowed: false,
    })
  })

  it("ports match by number or by the container port's name", () => {
    const byNumber = policy("n", { matchLabels: { app: "api" } }, [{ ports: [{ port: 8000 }] }])
    const byName = policy("m", { matchLabels: { app: "api" } }, [{ ports: [{ port: "http" }] }])
    const other = policy("o", { matchLabels: { app: "api" } }, [{ ports: [{ port: 9000 }] }])
    expect(NetworkPolicy.decide([byNumber], api, monitoring)).toMatchObject({ allowed: true })
    expect(NetworkPolicy.decide([byName], api, monitoring)).toMatchObject({ allowed: true })
    expect(NetworkPolicy.decide([other], api, frontend)).toMatchObject({ allowed: false })
  })

  it("matchExpressions: In, NotIn, Exists, DoesNotExist", () => {
    const expr = (operator: NetworkPolicy.SelectorOperator, values?: string[]) =>
      NetworkPolicy.selectorMatches(
        { matchExpressions: [{ key: "tier", operator, ...(values ? { values } : {}) }] },
        api.labels,
      )
    expect(expr("In", ["backend", "x"])).toBe(true)
    expect(expr("In", ["frontend"])).toBe(false)
    expect(expr("NotIn", ["frontend"])).toBe(true)
    expect(expr("NotIn", ["backend"])).toBe(false)
    expect(expr("Exists")).toBe(true)
    expect(expr("DoesNotExist")).toBe(false)
    expect(
      NetworkPolicy.selectorMatches(
        { matchExpressions: [{ key: "x", operator: "NotIn", values: ["a"] }] },
        {},
      ),
    ).toBe(true)
  })

  it("ignores policies of other namespaces", () => {
    const elsewhere = policy("deny", {}, [], "monitoring")
    expect(NetworkPolicy.decide([elsewhere], db, worker)).toMatchObject({
      allowed: true,
      by: "default",
    })
  })

  it("a policy set round-trips through its Schema", () => {
    const set: NetworkPolicy.PolicySet = {
      namespace: "shop",
      version: 1,
      policies: [
        policy("p", { matchLabels: { app: "api" } }, [
          { from: [{ podSelector: {} }], ports: [{ port: "http" }] },
        ]),
      ],
    }
    const json = Schema.encodeSync(Schema.fromJsonString(NetworkPolicy.PolicySet))(set)
    expect(Schema.decodeUnknownSync(Schema.fromJsonString(NetworkPolicy.PolicySet))(json)).toEqual(
      set,
    )
  })
})
