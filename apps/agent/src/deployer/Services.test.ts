import { readFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { ContainerCreateRequest } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Workload } from "../Manifest"
import type { ServiceObject } from "../ServiceObjects"
import { deployment, type FakeHost, makeFakeHost, passUntil, startDeployer } from "./testing"

const orders = (
  targetPort: number | string = 8088,
  selector = { app: "orders" },
): ServiceObject => ({
  namespace: "shop",
  name: "orders",
  selector,
  port: 80,
  targetPort,
})

/** `api`, labelled app=orders, serving on 8088 (port named http). */
const api = (labels: Record<string, string> = { app: "orders" }): Workload => {
  const base = deployment("api", 1)
  const [app] = base.containers
  if (app === undefined) throw new Error("deployment() has a container")
  return {
    ...base,
    labels,
    containers: [{ ...app, ports: [8088] }],
    services: [{ name: "api", port: 8088 }],
    portNames: { http: 8088 },
  }
}

/** The deployer with every sidecar's create request recorded. */
const recording = (host: FakeHost) =>
  Effect.gen(function* () {
    const sidecars: Array<ContainerCreateRequest> = []
    const deployer = yield* startDeployer(host, (fake) => ({
      ...fake,
      containers: {
        ...fake.containers,
        create: (req) => {
          if (req.labels?.["io.beemesh.role"] === "sidecar") sidecars.push(req)
          return fake.containers.create(req)
        },
      },
    }))
    return { deployer, sidecars }
  })

const servicesEnv = (sidecars: ReadonlyArray<ContainerCreateRequest>) =>
  sidecars.at(-1)?.env?.BEEMESH_SERVICES

describe("v1 Services in the workload manager (fake host)", () => {
  it.effect("a Service applied with its workload: the pods offer it on the targetPort", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, sidecars } = yield* recording(host)
        const [status] = yield* deployer.manager.apply([api()], [], [orders("http")])
        expect(servicesEnv(sidecars)).toBe("api=8088,orders=8088")
        expect(status?.services).toEqual([
          { name: "api", port: 8088 },
          { name: "orders", port: 8088 },
        ])
        expect(yield* deployer.manager.services()).toEqual([
          { ...orders("http"), selects: ["shop/api"] },
        ])
      }),
    ),
  )

  it.effect("a Service applied later rolls the running workloads it selects, and them only", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, sidecars } = yield* recording(host)
        const { manager } = deployer
        yield* manager.apply([api(), deployment("other", 1)])
        const before = (yield* manager.get("shop", "api")).revision
        const other = (yield* manager.get("shop", "other")).revision
        yield* manager.apply([], [], [orders()])
        expect((yield* manager.get("shop", "api")).revision).not.toBe(before)
        expect((yield* manager.get("shop", "other")).revision).toBe(other)
        yield* passUntil(deployer, () =>
          manager
            .get("shop", "api")
            .pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
        )
        expect(servicesEnv(sidecars)).toBe("api=8088,orders=8088")
      }),
    ),
  )

  it.effect("deleting a Service withdraws it from the workloads it selected (they roll)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, sidecars } = yield* recording(host)
        const { manager } = deployer
        yield* manager.apply([api()], [], [orders()])
        const withService = (yield* manager.get("shop", "api")).revision
        yield* manager.removeService("shop", "orders")
        expect((yield* manager.get("shop", "api")).services).toEqual([{ name: "api", port: 8088 }])
        expect((yield* manager.get("shop", "api")).revision).not.toBe(withService)
        // The old replica keeps renewing what it was started with until it is replaced.
        expect((yield* manager.get("shop", "api")).registrable).toEqual([
          { name: "api", port: 8088 },
          { name: "orders", port: 8088 },
        ])
        yield* passUntil(deployer, () =>
          manager
            .get("shop", "api")
            .pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
        )
        expect(servicesEnv(sidecars)).toBe("api=8088")
        expect((yield* manager.get("shop", "api")).registrable).toBeUndefined()
        expect(yield* manager.services()).toEqual([])
        const missing = yield* Effect.flip(manager.removeService("shop", "orders"))
        expect(missing.message).toContain("Service shop/orders does not exist")
      }),
    ),
  )

  it.effect("a Service selecting nothing is accepted and changes nothing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer } = yield* recording(host)
        const { manager } = deployer
        yield* manager.apply([api()])
        const before = (yield* manager.get("shop", "api")).revision
        yield* manager.apply(
          [],
          [],
          [orders(8088, { app: "nobody" }), { ...orders(), name: "bare", selector: {} }],
        )
        expect((yield* manager.get("shop", "api")).revision).toBe(before)
        expect((yield* manager.services()).map((s) => [s.name, s.selects])).toEqual([
          ["orders", []],
          ["bare", []],
        ])
      }),
    ),
  )

  it.effect("a named targetPort the workload lacks refuses the request; nothing is kept", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer } = yield* recording(host)
        const { manager } = deployer
        const error = yield* Effect.flip(manager.apply([api()], [], [orders("grpc")]))
        expect(error.message).toContain(
          "Service shop/orders selects Deployment shop/api, but no container of it has a port named grpc",
        )
        expect(yield* manager.services()).toEqual([])
        expect(yield* manager.list()).toEqual([])
        const sidecarPort = yield* Effect.flip(manager.apply([api()], [], [orders(8080)]))
        expect(sidecarPort.message).toContain("targetPort 8080 is the sidecar's own port")
      }),
    ),
  )

  it.effect("a restarted agent reads its Services back: nothing rolls", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        let revision: string | undefined
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { deployer } = yield* recording(host)
            yield* deployer.manager.apply([api()], [], [orders()])
            revision = (yield* deployer.manager.get("shop", "api")).revision
          }),
        )
        const stored = JSON.parse(
          yield* Effect.promise(() =>
            readFile(join(dirname(host.stateFile), "configs.json"), "utf8"),
          ),
        )
        expect(stored.services).toEqual([orders()])
        const { deployer } = yield* recording(host)
        expect((yield* deployer.manager.get("shop", "api")).revision).toBe(revision)
        yield* deployer.manager.apply([api()])
        expect((yield* deployer.manager.get("shop", "api")).revision).toBe(revision)
        expect((yield* deployer.manager.get("shop", "api")).services).toContainEqual({
          name: "orders",
          port: 8088,
        })
      }),
    ),
  )
})
