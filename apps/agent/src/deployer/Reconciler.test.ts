import { holderName } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { deployment, makeFakeHost, startDeployer } from "./testing"

describe("Reconciler on the fake Podman and the fake Egress", () => {
  it.effect("leaves whole replicas alone", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, reconciler } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 2)])
        const before = yield* host.fake.podman.pods.list()
        yield* reconciler.reconcileOnce()
        expect(yield* host.fake.podman.pods.list()).toEqual(before)
        expect((yield* manager.get("shop", "web")).pods.map((p) => p.restarts)).toEqual([0, 0])
      }),
    ),
  )

  it.effect.each(["a stopped app container", "a removed pod"])(
    "recreates the replica after %s, enforced, and counts a restart",
    (what) =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager, reconciler } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          const old = yield* host.fake.podman.pods.inspect("bm-shop-web-1")
          if (what === "a removed pod")
            yield* host.fake.podman.pods.remove("bm-shop-web-1", { force: true })
          else yield* host.fake.podman.containers.stop("bm-shop-web-1-app")
          yield* reconciler.reconcileOnce()
          const now = yield* host.fake.podman.pods.inspect("bm-shop-web-1")
          expect(now.Id).not.toBe(old.Id)
          // The holder, the sidecar and the app.
          expect(now.Containers?.map((c) => c.State)).toEqual(["running", "running", "running"])
          const replica = (yield* manager.get("shop", "web")).pods.find((p) => p.name === "web-1")
          expect(replica).toMatchObject({ phase: "Running", restarts: 1 })
          // The recreated pod's namespace has the policy; the old namespace's rules are gone.
          const holder = yield* host.fake.podman.containers.inspect(holderName("bm-shop-web-1"))
          expect([...host.fake.egress.inForce().keys()]).toContain(
            `/proc/${holder.State.Pid}/ns/net`,
          )
          expect(host.fake.egress.inForce().size).toBe(2)
        }),
      ),
  )

  it.effect(
    "a replica that cannot be recreated is Failed with the reason, and retried next pass",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager, reconciler } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 1)])
          yield* host.fake.podman.pods.remove("bm-shop-web-0", { force: true })
          host.fake.egress.failOn("install", "nft: no such table")
          yield* reconciler.reconcileOnce()
          const [failed] = (yield* manager.get("shop", "web")).pods
          expect(failed).toMatchObject({ phase: "Failed", restarts: 1 })
          expect(failed?.message).toContain("nft: no such table")
          expect(yield* host.fake.podman.pods.list()).toEqual([])
          host.fake.egress.failOn("install", undefined)
          yield* reconciler.reconcileOnce()
          expect((yield* manager.get("shop", "web")).pods[0]).toMatchObject({
            phase: "Running",
            restarts: 2,
          })
        }),
      ),
  )
})
