import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { parseApply, type Workload } from "./Manifest"
import { offeredServices, selectedServices, selects } from "./ServiceObjects"

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
      expect(
        yield* refusal(service("{ports: [{name: a, port: 80}, {name: b, port: 81}]}")),
      ).toContain("spec.ports has 2 ports; beemesh supports one port per Service")
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
