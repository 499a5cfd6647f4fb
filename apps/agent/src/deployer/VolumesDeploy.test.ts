import { type ContainerCreateRequest, RuntimeFailure } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ConfigObject } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { deployment, type FakeHost, makeFakeHost, passUntil, startDeployer } from "./testing"

const b64 = (text: string) => Buffer.from(text).toString("base64")
const settings = (greeting: string): ConfigObject => ({
  kind: "ConfigMap",
  namespace: "shop",
  name: "settings",
  data: { greeting: b64(greeting) },
})

/** `web` mounting a ConfigMap (read-only) and an emptyDir shared by its two containers. */
const user = (name = "web", optional = false): Workload => {
  const base = deployment(name, 1)
  const [app] = base.containers
  if (app === undefined) throw new Error("deployment() has a container")
  return {
    ...base,
    volumes: [
      {
        name: "cfg",
        kind: "ConfigMap",
        object: "settings",
        defaultMode: 0o644,
        optional,
      },
      { name: "shared", kind: "EmptyDir", medium: "" },
    ],
    containers: [
      {
        ...app,
        volumeMounts: [
          { name: "cfg", mountPath: "/etc/app", readOnly: true },
          { name: "shared", mountPath: "/shared", readOnly: false },
        ],
      },
      {
        ...app,
        name: "helper",
        ports: [],
        volumeMounts: [{ name: "shared", mountPath: "/data", readOnly: false, subPath: "x" }],
      },
    ],
  }
}

const recording = (host: FakeHost) =>
  Effect.gen(function* () {
    const created: Array<ContainerCreateRequest> = []
    const deployer = yield* startDeployer(host, (fake) => ({
      ...fake,
      containers: {
        ...fake.containers,
        create: (req) => {
          created.push(req)
          return fake.containers.create(req)
        },
      },
    }))
    return { deployer, created }
  })

describe("volumes in the workload manager (fake host)", () => {
  it.effect(
    "each app container bind-mounts the volumes its pod was given, read-only where asked",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { deployer, created } = yield* recording(host)
          yield* deployer.manager.apply([user()], [settings("hello")])
          const pod = "bm-shop-web-0"
          expect(host.volumes.prepared.get(pod)).toEqual(
            new Map([
              ["cfg", ["greeting=hello"]],
              ["shared", []],
            ]),
          )
          const mounts = (container: string) =>
            created.find((c) => c.name === `${pod}-${container}`)?.mounts
          expect(mounts("app")).toEqual([
            { type: "bind", source: `/fake/${pod}/cfg`, destination: "/etc/app", options: ["ro"] },
            { type: "bind", source: `/fake/${pod}/shared`, destination: "/shared", options: [] },
          ])
          expect(mounts("helper")).toEqual([
            { type: "bind", source: `/fake/${pod}/shared/x`, destination: "/data", options: [] },
          ])
          // The sidecar mounts nothing (the holder is created by another request, without mounts).
          expect(mounts("sidecar")).toBeUndefined()
        }),
      ),
  )

  it.effect(
    "a missing ConfigMap refuses the workload (naming it); optional: the volume is empty",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { deployer } = yield* recording(host)
          const error = yield* Effect.flip(deployer.manager.apply([user()]))
          expect(error.message).toContain(
            "volume cfg refers to ConfigMap shop/settings, which does not exist",
          )
          expect(host.volumes.prepared.size).toBe(0)
          expect((yield* host.fake.podman.pods.list()).length).toBe(0)
          yield* deployer.manager.apply([user("web", true)])
          expect(host.volumes.prepared.get("bm-shop-web-0")?.get("cfg")).toEqual([])
        }),
      ),
  )

  it.effect(
    "a changed ConfigMap rolls its users onto fresh files; deletes release the volumes",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { deployer } = yield* recording(host)
          const { manager } = deployer
          yield* manager.apply([user()], [settings("hello")])
          const before = (yield* manager.get("shop", "web")).revision
          yield* manager.apply([], [settings("bonjour")])
          expect((yield* manager.get("shop", "web")).revision).not.toBe(before)
          yield* passUntil(deployer, () =>
            manager
              .get("shop", "web")
              .pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
          )
          const pods = [...host.volumes.prepared.keys()]
          expect(pods.length).toBe(1)
          expect(host.volumes.prepared.get(pods[0]!)?.get("cfg")).toEqual(["greeting=bonjour"])
          yield* manager.remove("shop", "web")
          expect(host.volumes.prepared.size).toBe(0)
        }),
      ),
  )

  it.effect("a failed pod creation releases the volumes it prepared", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const deployer = yield* startDeployer(host, (fake) => ({
          ...fake,
          containers: {
            ...fake.containers,
            start: (name) =>
              name.endsWith("-helper")
                ? Effect.fail(
                    new RuntimeFailure({
                      operation: "container start",
                      status: 500,
                      podmanMessage: "helper failed to start",
                    }),
                  )
                : fake.containers.start(name),
          },
        }))
        const exit = yield* Effect.exit(deployer.manager.apply([user()], [settings("hello")]))
        expect(exit._tag).toBe("Failure")
        expect(host.volumes.prepared.size).toBe(0)
      }),
    ),
  )

  it.effect("a starting agent sweeps the volumes of pods that are gone, and keeps the others", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { deployer } = yield* recording(host)
            yield* deployer.manager.apply([user()], [settings("hello")])
          }),
        )
        // Left by a pod created while the agent was down to a crash mid-create.
        host.volumes.prepared.set("bm-shop-gone-0", new Map())
        yield* recording(host)
        expect([...host.volumes.prepared.keys()]).toEqual(["bm-shop-web-0"])
      }),
    ),
  )
})
