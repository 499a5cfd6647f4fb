import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { type ManifestInvalid, parseManifests, replicaNames, type Workload } from "./Manifest"

const parse = (text: string) => Effect.runSync(parseManifests(text))

const refusal = (text: string): ManifestInvalid => {
  const exit = Effect.runSyncExit(parseManifests(text))
  if (Exit.isSuccess(exit)) throw new Error(`expected a refusal, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders
  namespace: shop
  labels: { app: orders }
spec:
  replicas: 2
  selector:
    matchLabels: { app: orders }
  template:
    metadata:
      labels: { app: orders, tier: backend }
      annotations:
        beemesh.io/upstreams: "stock=9001,charge=9002"
    spec:
      containers:
        - name: app
          image: localhost/orders:1
          command: ["/bin/busybox"]
          args: ["httpd", "-f", "-p", "80"]
          env:
            - { name: GREETING, value: hello }
          ports:
            - containerPort: 80
          resources:
            limits: { memory: 64Mi, cpu: 500m }
`

describe("parseManifests", () => {
  it("takes a pod's terminationGracePeriodSeconds (absent: not set, so specs keep their hash) and refuses a negative one", () => {
    const withGrace = (value: string) =>
      deployment.replace(
        "    spec:\n      containers:",
        `    spec:\n      terminationGracePeriodSeconds: ${value}\n      containers:`,
      )
    expect(parse(withGrace("5"))[0]?.terminationGracePeriodSeconds).toBe(5)
    expect(parse(withGrace("0"))[0]?.terminationGracePeriodSeconds).toBe(0)
    expect(parse(deployment)[0]).not.toHaveProperty("terminationGracePeriodSeconds")
    expect(refusal(withGrace("-1")).reason).toMatch(
      /terminationGracePeriodSeconds.*must not be negative/,
    )
  })

  it("translates an apps/v1 Deployment", () => {
    const [workload] = parse(deployment)
    expect(workload).toEqual({
      kind: "Deployment",
      namespace: "shop",
      name: "orders",
      replicas: 2,
      labels: { app: "orders", tier: "backend" },
      containers: [
        {
          name: "app",
          image: "localhost/orders:1",
          command: ["/bin/busybox"],
          args: ["httpd", "-f", "-p", "80"],
          workingDir: undefined,
          env: [{ name: "GREETING", value: "hello" }],
          ports: [80],
          memoryLimitBytes: 64 * 2 ** 20,
          cpuLimitMillis: 500,
        },
      ],
      services: [{ name: "orders", port: 80 }],
      upstreams: [
        { service: "stock", port: 9001 },
        { service: "charge", port: 9002 },
      ],
    } satisfies Workload)
    expect(replicaNames(workload!)).toEqual(["orders-0", "orders-1"])
  })

  it("accepts JSON and several YAML documents", () => {
    const pod = JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", annotations: { "beemesh.io/services": "web=8000,admin=9090" } },
      spec: {
        containers: [
          { name: "app", image: "web", ports: [{ containerPort: 8000 }, { containerPort: 9090 }] },
        ],
      },
    })
    expect(parse(pod)[0]).toMatchObject({
      kind: "Pod",
      namespace: "default",
      replicas: 1,
      services: [
        { name: "web", port: 8000 },
        { name: "admin", port: 9090 },
      ],
    })
    const statefulSet = deployment
      .replace("Deployment", "StatefulSet")
      .replace("name: orders\n", "name: db\n")
    const both = parse(`${statefulSet}\n---\n${pod}`)
    expect(both.map((w) => `${w.kind}/${w.name}`)).toEqual(["StatefulSet/db", "Pod/web"])
    expect(replicaNames(both[0]!)).toEqual(["db-0", "db-1"])
    expect(replicaNames(both[1]!)).toEqual(["web"])
  })

  it("reads an upstream to a port of a multi-port Service as service:portName=localPort", () => {
    const [workload] = parse(
      deployment.replace("stock=9001,charge=9002", "web:http=81,web:metrics=9090,stock=9001"),
    )
    expect(workload?.upstreams).toEqual([
      { service: "web", port: 81, servicePort: "http" },
      { service: "web", port: 9090, servicePort: "metrics" },
      { service: "stock", port: 9001 },
    ])
  })

  it("gives a workload without containerPorts no service", () => {
    const [client] = parse(
      `{apiVersion: v1, kind: Pod, metadata: {name: client}, spec: {containers: [{name: app, image: c}]}}`,
    )
    expect(client?.services).toEqual([])
  })

  it.each([
    ["invalid YAML", "kind: [unclosed", /not valid YAML or JSON/],
    ["an empty body", "", /no manifest in the body/],
    [
      "an unknown kind",
      "{apiVersion: batch/v1, kind: Job, metadata: {name: j}}",
      /unsupported kind batch\/v1 Job; supported: v1 Pod/,
    ],
    ["a missing kind", "{metadata: {name: x}}", /needs apiVersion and kind/],
    [
      "a bad name",
      deployment.replace("name: orders\n", "name: Orders_1\n"),
      /metadata\.name: must be a DNS-1123 label/,
    ],
    [
      "a too long name",
      deployment.replace("name: orders\n", `name: ${"a".repeat(41)}\n`),
      /at most 40 characters/,
    ],
    [
      "no containers",
      "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}",
      /at least one container/,
    ],
    [
      "a missing image",
      "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: a}]}}",
      /spec\.containers\[0\]\.image: is required/,
    ],
    [
      "a hostPort",
      deployment.replace("- containerPort: 80", "- { containerPort: 80, hostPort: 80 }"),
      /hostPort is refused — only the sidecar is ever published/,
    ],
    [
      "a port out of range",
      deployment.replace("containerPort: 80", "containerPort: 70000"),
      /between 1 and 65535/,
    ],
    [
      "the sidecar's port",
      deployment.replace("containerPort: 80", "containerPort: 8080"),
      /reserved for the sidecar/,
    ],
    [
      "a UDP port",
      deployment.replace("- containerPort: 80", "- { containerPort: 80, protocol: UDP }"),
      /only TCP/,
    ],
    [
      "hostNetwork",
      deployment.replace("      containers:", "      hostNetwork: true\n      containers:"),
      /hostNetwork is refused/,
    ],
    [
      "a privileged container",
      deployment.replace(
        "          image:",
        "          securityContext: { privileged: true }\n          image:",
      ),
      /privileged/,
    ],
    [
      "valueFrom",
      deployment.replace(
        "{ name: GREETING, value: hello }",
        "{ name: S, valueFrom: { secretKeyRef: {} } }",
      ),
      /valueFrom/,
    ],
    [
      "too many replicas",
      deployment.replace("replicas: 2", "replicas: 500"),
      /at most 250 replicas/,
    ],
    [
      "negative replicas",
      deployment.replace("replicas: 2", "replicas: -1"),
      /must not be negative/,
    ],
    [
      "a selector that does not match",
      deployment.replace("matchLabels: { app: orders }", "matchLabels: { app: other }"),
      /does not match/,
    ],
    [
      "a bad memory limit",
      deployment.replace("memory: 64Mi", "memory: lots"),
      /not a quantity like 128Mi/,
    ],
    [
      "a service on an undeclared port",
      deployment.replace(
        'beemesh.io/upstreams: "stock=9001,charge=9002"',
        'beemesh.io/services: "orders=81"',
      ),
      /no container declares/,
    ],
    ["a malformed upstream", deployment.replace("stock=9001", "stock"), /"stock" is not name=port/],
    [
      "an upstream on an app port",
      deployment.replace("stock=9001", "stock=80"),
      /port 80 for stock is already taken/,
    ],
    [
      "a hostile upstream name",
      deployment.replace("stock=9001", "other/stock=9001"),
      /must be a service name \(a DNS-1123 label\) of this namespace/,
    ],
    [
      "an upstream listed twice (the sidecar could not read it back)",
      deployment.replace("stock=9001,charge=9002", "stock=9001,stock=9003"),
      /beemesh.io\/upstreams: service "stock" appears twice/,
    ],
    [
      "an empty annotation entry",
      deployment.replace("stock=9001,charge=9002", "stock=9001,"),
      /beemesh.io\/upstreams: "" is not name=port/,
    ],
    [
      "an upstream port that is not decimal",
      deployment.replace("stock=9001", "stock=0x2329"),
      /beemesh.io\/upstreams: entry "stock=0x2329": "0x2329" is not a port number/,
    ],
    [
      "an upstream named localhost (its name would point localhost away from the pod)",
      deployment.replace("stock=9001", "localhost=9001"),
      /"localhost" cannot be an upstream/,
    ],
    [
      "an upstream port named twice",
      deployment.replace("stock=9001,charge=9002", "web:http=9001,web:http=9002"),
      /beemesh.io\/upstreams: port http of service "web" appears twice/,
    ],
    [
      "an upstream port name that is not a label",
      deployment.replace("stock=9001", "stock:Http=9001"),
      /beemesh.io\/upstreams: "stock:Http": the port name after ':' is not a DNS-1123 label/,
    ],
    [
      "a workload twice",
      `${deployment}\n---\n${deployment}`,
      /shop\/orders appears more than once/,
    ],
  ])("refuses %s with a reason", (_, text, pattern) => {
    const error = refusal(text)
    expect(error._tag).toBe("ManifestInvalid")
    expect(error.message).toMatch(pattern)
  })

  it("names the document the problem is in", () => {
    const error = refusal(
      `${deployment}\n---\n{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: s}}`,
    )
    expect(error.document).toBe(1)
    expect(error.message).toMatch(/^manifest document 2: unsupported kind v1 PersistentVolumeClaim/)
  })
})
