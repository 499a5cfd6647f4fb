import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseApply, type Workload } from "./Manifest"
import { offeredServices, registeredPorts, selectedServices, selects } from "./ServiceObjects"

const DEPLOYMENT_AND_SERVICE = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: orders, namespace: shop}
spec:
  selector: {matchLabels: {app: orders}}
  template:
    metadata: {labels: {app: orders}}
    spec:
      containers:
        - name: app
          image: localhost/orders:1
          ports: [{name: http, containerPort: 8088}]
---
apiVersion: v1
kind: Service
metadata: {name: orders, namespace: shop}
spec:
  selector: {app: orders}
  ports: [{name: web, port: 80, targetPort: http, protocol: TCP}]
`

const service = (spec: string) =>
  `{apiVersion: v1, kind: Service, metadata: {name: orders}, spec: ${spec}}`

const refusal = (text: string) =>
  parseApply(text).pipe(
    Effect.flip,
    Effect.map((error) => error.message),
  )

describe("v1 Service manifests", () => {
  it.effect("a Deployment and its Service in one file: both read, the port names kept", () =>
    Effect.gen(function* () {
      const request = yield* parseApply(DEPLOYMENT_AND_SERVICE)
      expect(request.services).toEqual([
        {
          namespace: "shop",
          name: "orders",
          selector: { app: "orders" },
          port: 80,
          targetPort: "http",
        },
      ])
      const [workload] = request.workloads
      expect(workload?.portNames).toEqual({ http: 8088 })
      if (workload === undefined) return
      const [object] = request.services
      if (object === undefined) return
      expect(selects(object, workload)).toBe(true)
      expect(selectedServices(workload, [object], { reservedPorts: [8080, 8081] })).toEqual([
        { name: "orders", port: 8088 },
      ])
    }),
  )

  it.effect("targetPort defaults to port; a Service alone is a request", () =>
    Effect.gen(function* () {
      const request = yield* parseApply(service("{selector: {app: a}, ports: [{port: 9000}]}"))
      expect(request.services[0]).toMatchObject({ port: 9000, targetPort: 9000 })
      expect(request.workloads).toEqual([])
    }),
  )

  it.effect("what kubectl create service writes is accepted; a status with content is not", () =>
    Effect.gen(function* () {
      const kubectl = `apiVersion: v1
kind: Service
metadata:
  creationTimestamp: null
  labels: {app: orders}
  name: orders
spec:
  ports:
  - name: 80-8088
    port: 80
    protocol: TCP
    targetPort: 8088
  selector: {app: orders}
  type: ClusterIP
status:
  loadBalancer: {}
`
      expect((yield* parseApply(kubectl)).services[0]).toMatchObject({ port: 80, targetPort: 8088 })
      expect(
        yield* refusal(kubectl.replace("loadBalancer: {}", "loadBalancer: {ingress: []}")),
      ).toContain("status.loadBalancer: is written by a Kubernetes API server")
    }),
  )

  it.effect("what the mesh does not do is refused by name", () =>
    Effect.gen(function* () {
      expect(yield* refusal(service("{type: NodePort, ports: [{port: 80}]}"))).toContain(
        'spec.type "NodePort" is refused: only ClusterIP Services are supported',
      )
      expect(yield* refusal(service("{type: LoadBalancer, ports: [{port: 80}]}"))).toContain(
        'spec.type "LoadBalancer" is refused',
      )
      expect(yield* refusal(service("{clusterIP: None, ports: [{port: 80}]}"))).toContain(
        "spec.clusterIP: is refused: a beemesh Service has no cluster address",
      )
      expect(yield* refusal(service("{sessionAffinity: ClientIP, ports: [{port: 80}]}"))).toContain(
        "spec.sessionAffinity: not supported by beemesh yet",
      )
      expect(yield* refusal(service("{externalName: db.example, ports: [{port: 80}]}"))).toContain(
        "spec.externalName: is refused: only ClusterIP Services are supported",
      )
      expect(yield* refusal(service("{ports: [{port: 53, protocol: UDP}]}"))).toContain(
        'spec.ports[0].protocol "UDP" is refused: only TCP is carried',
      )
      expect(yield* refusal(service("{ports: [{port: 80, nodePort: 30080}]}"))).toContain(
        "spec.ports[0].nodePort: is refused: only the sidecar is ever published",
      )
      expect(yield* refusal(service("{ports: []}"))).toContain(
        "spec.ports: needs at least one port",
      )
      expect(yield* refusal(service("{selector: {app: a}}"))).toContain("spec.ports: is required")
      expect(
        yield* refusal(
          `${service("{ports: [{port: 80}]}")}\n---\n${service("{ports: [{port: 81}]}")}`,
        ),
      ).toContain("Service default/orders appears more than once")
    }),
  )

  it.effect("two containers may not share a port name", () =>
    Effect.gen(function* () {
      const text = `{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [
        {name: a, image: i, ports: [{name: http, containerPort: 81}]},
        {name: b, image: i, ports: [{name: http, containerPort: 82}]}]}}`
      expect(yield* refusal(text)).toContain("container b: port name http is used twice in the pod")
    }),
  )

  it("a Service replaces the workload's own service of its name", () => {
    const workload: Pick<Workload, "services" | "selectedBy"> = {
      services: [
        { name: "orders", port: 8088 },
        { name: "admin", port: 9090 },
      ],
      selectedBy: [{ name: "orders", port: 8089 }],
    }
    expect(offeredServices(workload)).toEqual([
      { name: "admin", port: 9090 },
      { name: "orders", port: 8089 },
    ])
  })
})

const TWO_PORTS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-app, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: app
          image: localhost/web:1
          ports: [{name: http, containerPort: 8088}, {name: metrics, containerPort: 9100}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: metrics, port: 9090, targetPort: 9100}
`

/** The request's refusal with whether it is answered 422 (unprocessable) or 400. */
const refusalOf = (text: string) =>
  parseApply(text).pipe(
    Effect.flip,
    Effect.map((error) => ({
      message: error.message,
      unprocessable: error.unprocessable === true,
    })),
  )

describe("v1 Services of several ports", () => {
  it.effect(
    "each port is kept; the first also stands for the Service, as port and targetPort",
    () =>
      Effect.gen(function* () {
        const request = yield* parseApply(TWO_PORTS)
        expect(request.services).toEqual([
          {
            namespace: "shop",
            name: "web",
            selector: { app: "web" },
            port: 80,
            targetPort: "http",
            ports: [
              { name: "http", port: 80, targetPort: "http" },
              { name: "metrics", port: 9090, targetPort: 9100 },
            ],
          },
        ])
      }),
  )

  it.effect("each port is registered as <service>--<port name>, the first also as <service>", () =>
    Effect.gen(function* () {
      const request = yield* parseApply(TWO_PORTS)
      const [workload] = request.workloads
      const [object] = request.services
      if (workload === undefined || object === undefined) throw new Error("not parsed")
      expect(registeredPorts(object)).toEqual([
        { name: "web", targetPort: "http" },
        { name: "web--http", targetPort: "http" },
        { name: "web--metrics", targetPort: 9100 },
      ])
      expect(selectedServices(workload, [object], { reservedPorts: [8080, 8081] })).toEqual([
        { name: "web", port: 8088 },
        { name: "web--http", port: 8088 },
        { name: "web--metrics", port: 9100 },
      ])
    }),
  )

  it.effect("a port without a name among several is refused (422), naming the field", () =>
    Effect.gen(function* () {
      expect(yield* refusalOf(service("{ports: [{name: a, port: 80}, {port: 81}]}"))).toEqual({
        message: expect.stringContaining("spec.ports[1].name is required"),
        unprocessable: true,
      })
    }),
  )

  it.effect("a port name or number used twice is refused (422), naming both", () =>
    Effect.gen(function* () {
      expect(
        yield* refusalOf(service("{ports: [{name: a, port: 80}, {name: a, port: 81}]}")),
      ).toEqual({
        message: expect.stringContaining(
          'spec.ports[1].name "a" is a duplicate of spec.ports[0].name',
        ),
        unprocessable: true,
      })
      expect(
        yield* refusalOf(
          service("{ports: [{name: a, port: 80}, {name: b, port: 81}, {name: c, port: 80}]}"),
        ),
      ).toEqual({
        message: expect.stringContaining(
          "spec.ports[2].port 80 is a duplicate of spec.ports[0].port",
        ),
        unprocessable: true,
      })
    }),
  )

  it.effect("a name the mesh cannot register a port under is refused (400)", () =>
    Effect.gen(function* () {
      expect(
        yield* refusalOf(
          "{apiVersion: v1, kind: Service, metadata: {name: a--b}, spec: {ports: [{port: 80}]}}",
        ),
      ).toEqual({
        message: expect.stringContaining('metadata.name "a--b" must not contain "--"'),
        unprocessable: false,
      })
      const long = "p".repeat(30)
      const name = "s".repeat(35)
      expect(
        yield* refusalOf(
          `{apiVersion: v1, kind: Service, metadata: {name: ${name}}, spec: {ports: [{name: a, port: 80}, {name: ${long}, port: 81}]}}`,
        ),
      ).toEqual({
        message: expect.stringContaining("longer than 63 characters; use a shorter name"),
        unprocessable: false,
      })
      expect(
        yield* refusalOf(
          service("{ports: [{name: a, port: 80}, {name: b, port: 81, protocol: UDP}]}"),
        ),
      ).toEqual({
        message: expect.stringContaining('spec.ports[1].protocol "UDP" is refused'),
        unprocessable: false,
      })
    }),
  )

  it.effect("more ports than a pod can register are refused, naming the limit", () =>
    Effect.gen(function* () {
      const ports = (count: number) =>
        Array.from({ length: count }, (_, i) => `{name: p${i}, port: ${1000 + i}}`).join(", ")
      const fits = yield* parseApply(service(`{ports: [${ports(31)}]}`))
      expect(fits.services[0]?.ports).toHaveLength(31)
      expect(yield* refusalOf(service(`{ports: [${ports(32)}]}`))).toEqual({
        message: expect.stringContaining(
          "spec.ports has 32 ports; a pod registers at most 32 services",
        ),
        unprocessable: false,
      })
    }),
  )

  it.effect("a named targetPort of a later port that the workload lacks refuses the workload", () =>
    Effect.gen(function* () {
      const request = yield* parseApply(TWO_PORTS.replace("targetPort: 9100", "targetPort: stats"))
      const [workload] = request.workloads
      const [object] = request.services
      if (workload === undefined || object === undefined) throw new Error("not parsed")
      expect(selectedServices(workload, [object], { reservedPorts: [8080, 8081] })).toContain(
        "no container of it has a port named stats",
      )
    }),
  )
})
