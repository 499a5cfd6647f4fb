import { access } from "node:fs/promises"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Workload } from "../Manifest"
import { LABEL_SPEC, specHash } from "./PodTemplate"
import {
  deployment,
  type FakeHost,
  makeFakeHost,
  passUntil,
  podOptions,
  startDeployer,
} from "./testing"

const pods = (host: FakeHost) =>
  host.fake.podman.pods
    .list()
    .pipe(Effect.map((list) => list.map((p) => `${p.Name} ${p.Id}`).sort()))
const podOf = (name: string, namespace = "shop"): Workload => ({
  ...deployment(name, 1),
  kind: "Pod",
  namespace,
})
const ghost = deployment("ghost", 2, "localhost/no-such-image:1")
const stateExists = (host: FakeHost) =>
  Effect.promise(() =>
    access(host.stateFile).then(
      () => true,
      () => false,
    ),
  )

describe("apply is all or nothing", () => {
  it.effect(
    "a later document that fails: the new workload before it is not left running or saved",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          const error = yield* Effect.flip(manager.apply([deployment("web", 2), ghost]))
          expect(error.message).toContain("localhost/no-such-image:1")
          expect(yield* pods(host)).toEqual([])
          expect(host.fake.egress.inForce().size).toBe(0)
          expect(yield* manager.list()).toEqual([])
          expect(yield* stateExists(host)).toBe(false)
        }),
      ),
  )

  it.effect("a scale-up and an update before the failing document are put back as they were", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* host.fake.podman.images.build({ context: "/x", tag: "localhost/web:2" } as never)
        const { manager } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 1), deployment("api", 1)])
        const before = yield* pods(host)
        const error = yield* Effect.flip(
          manager.apply([deployment("web", 3), deployment("api", 1, "localhost/web:2"), ghost]),
        )
        expect(error._tag).toBe("DeployFailed")
        // web: scaled back to its one pod, the same one.
        expect((yield* pods(host)).filter((p) => p.startsWith("bm-shop-web-"))).toEqual(
          before.filter((p) => p.startsWith("bm-shop-web-")),
        )
        // api: its previous version runs again (recreated), and is the desired one.
        const api = yield* host.fake.podman.pods.inspect("bm-shop-api-0")
        expect(api.Labels?.[LABEL_SPEC]).toBe(specHash(deployment("api", 1), podOptions))
        expect((yield* manager.get("shop", "api")).pods.map((p) => p.phase)).toEqual(["Running"])
        expect((yield* manager.list()).map((w) => [w.name, w.replicas])).toEqual([
          ["web", 1],
          ["api", 1],
        ])
      }),
    ),
  )

  it.effect("a failed update alone leaves the previous version desired and running", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 2)])
        yield* Effect.flip(manager.apply([deployment("web", 2, "localhost/no-such-image:1")]))
        const status = yield* manager.get("shop", "web")
        expect(status.pods.map((p) => p.phase)).toEqual(["Running", "Running"])
        const web0 = yield* host.fake.podman.pods.inspect("bm-shop-web-0")
        expect(web0.Labels?.[LABEL_SPEC]).toBe(specHash(deployment("web", 2), podOptions))
      }),
    ),
  )
})

describe("pod names are unique across kinds and namespaces", () => {
  it.effect(
    "a Pod web-0 beside a Deployment web is refused naming the holder; nothing is created",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          const before = yield* pods(host)
          const error = yield* Effect.flip(manager.apply([podOf("other"), podOf("web-0")]))
          expect(error).toMatchObject({ _tag: "PodNameTaken", pod: "bm-shop-web-0" })
          expect(error.message).toContain("Pod shop/web-0")
          expect(error.message).toContain("replica web-0 of Deployment shop/web")
          expect(yield* pods(host)).toEqual(before)
        }),
      ),
  )

  it.effect("two namespaces whose names run together are refused too, even in one request", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        const error = yield* Effect.flip(manager.apply([podOf("c", "a-b"), podOf("b-c", "a")]))
        expect(error).toMatchObject({
          _tag: "PodNameTaken",
          pod: "bm-a-b-c",
          holder: "replica c of Pod a-b/c",
        })
        expect(yield* pods(host)).toEqual([])
      }),
    ),
  )

  it.effect(
    "re-applying a workload is not a collision with itself; naming one twice is refused",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          yield* manager.apply([deployment("web", 3)])
          expect(yield* pods(host)).toHaveLength(3)
          const error = yield* Effect.flip(manager.apply([deployment("x", 1), deployment("x", 2)]))
          expect(error.message).toMatch(/names this workload twice/)
        }),
      ),
  )
})

describe("pod names after an update", () => {
  it.effect("a Deployment's replicas renamed by an update hold their names against a Pod", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* host.fake.podman.images.build({ contextDir: "/x", tag: "localhost/web:2" })
        const deployer = yield* startDeployer(host)
        yield* deployer.manager.apply([deployment("web", 1)])
        yield* deployer.manager.apply([deployment("web", 1, "localhost/web:2")])
        yield* passUntil(deployer, () =>
          deployer.manager
            .get("shop", "web")
            .pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
        )
        expect((yield* deployer.manager.get("shop", "web")).pods.map((p) => p.name)).toEqual([
          "web-1",
        ])
        const error = yield* Effect.flip(deployer.manager.apply([podOf("web-1")]))
        expect(error).toMatchObject({
          _tag: "PodNameTaken",
          holder: "replica web-1 of Deployment shop/web",
        })
      }),
    ),
  )
})
