import { NetworkPolicy } from "@beemesh/contract"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { parseApply } from "./Manifest"

const parse = (text: string) => Effect.runSync(Effect.exit(parseApply(text)))
const policies = (text: string) => {
  const exit = parse(text)
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value.policies
}
const refusal = (text: string) => {
  const exit = parse(text)
  if (Exit.isSuccess(exit)) throw new Error("accepted")
  return String(exit.cause)
}

const FROM_FRONTEND = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: api-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: frontend
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: monitoring
          podSelector:
            matchExpressions:
              - { key: app, operator: In, values: [prom] }
      ports:
        - port: 8000
          protocol: TCP
        - port: 9000
`

describe("NetworkPolicy manifests", () => {
  it("parse into the policy sidecars enforce", () => {
    expect(policies(FROM_FRONTEND)).toEqual([
      {
        namespace: "shop",
        name: "api-from-frontend",
        podSelector: { matchLabels: { app: "api" } },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { app: "frontend" } } },
              {
                namespaceSelector: {
                  matchLabels: { [NetworkPolicy.NAMESPACE_NAME_LABEL]: "monitoring" },
                },
                podSelector: {
                  matchExpressions: [{ key: "app", operator: "In", values: ["prom"] }],
                },
              },
            ],
            ports: [{ port: 8000 }, { port: 9000 }],
          },
        ],
      },
    ])
  })

  it("deny-all: an empty podSelector and no rules; namespace default", () => {
    expect(
      policies(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny}\nspec: {podSelector: {}}\n",
      ),
    ).toEqual([{ namespace: "default", name: "deny", podSelector: {}, ingress: [] }])
  })

  it("apply together with workloads in one request", () => {
    const exit = parse(
      `${FROM_FRONTEND}---\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: web, image: docker.io/library/busybox:1.36}]\n`,
    )
    expect(
      Exit.isSuccess(exit) && [exit.value.workloads.length, exit.value.policies.length],
    ).toEqual([1, 1])
  })

  it.each([
    [
      "Egress by name",
      "  policyTypes: [Ingress, Egress]\n",
      /policyTypes Egress is not supported by beemesh yet/,
    ],
    ["egress rules", "  egress: []\n", /egress.*sidecars enforce ingress only/],
    [
      "ipBlock by name",
      "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n",
      /ipBlock.*callers are certified workloads, never addresses/,
    ],
    ["UDP ports", "  ingress: [{ports: [{port: 53, protocol: UDP}]}]\n", /protocol/],
    [
      "named ports",
      "  ingress: [{ports: [{port: http}]}]\n",
      /named ports are not supported by beemesh yet/,
    ],
    ["endPort", "  ingress: [{ports: [{port: 80, endPort: 90}]}]\n", /endPort/],
    [
      "a peer selecting nothing",
      "  ingress: [{from: [{}]}]\n",
      /selects nothing; give podSelector or namespaceSelector/,
    ],
    [
      "In without values",
      "  ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: In}]}}]}]\n",
      /operator In needs values/,
    ],
    ["an unknown field", "  podSelectors: {}\n", /podSelectors/],
  ])("refuse %s", (_, extra, message) => {
    expect(
      refusal(
        `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n${extra}`,
      ),
    ).toMatch(message)
  })

  it("refuse the same policy twice in one request", () => {
    expect(refusal(`${FROM_FRONTEND}---${FROM_FRONTEND}`)).toMatch(
      /NetworkPolicy shop\/api-from-frontend appears more than once/,
    )
  })
})
