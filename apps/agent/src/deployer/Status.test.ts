import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { deployment, makeFakeHost, startDeployer } from "./testing"

describe("workload status, as kubectl shows it", () => {
  it.effect("counts desired, ready, updated and available replicas, with conditions", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        const [status] = yield* manager.apply([deployment("web", 2)])
        expect(status).toMatchObject({ desired: 2, ready: 2, updated: 2, available: 2 })
        expect(status?.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
          ["Available", "True", "MinimumReplicasAvailable"],
          ["Progressing", "True", "ReplicasAvailable"],
          ["ReplicaFailure", "False", "NoFailure"],
        ])
        expect(status?.pods[0]?.events.map((e) => e.reason)).toEqual(["Created", "Started"])
      }),
    ),
  )

  it.effect(
    "a replica that cannot come back: Available False, ReplicaFailure True with the reason; events in order",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager, reconciler } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          yield* TestClock.adjust("1 minute")
          yield* host.fake.podman.pods.remove("bm-shop-web-1", { force: true })
          host.fake.egress.failOn("install", "nft: no such table")
          yield* reconciler.reconcileOnce()
          const failed = yield* manager.get("shop", "web")
          expect(failed).toMatchObject({ desired: 2, ready: 1, updated: 1, available: 1 })
          expect(failed.conditions.find((c) => c.type === "Available")?.status).toBe("False")
          const failure = failed.conditions.find((c) => c.type === "ReplicaFailure")
          expect(failure?.status).toBe("True")
          expect(failure?.message).toMatch(/replica web-1: .*nft: no such table/)
          host.fake.egress.failOn("install", undefined)
          yield* TestClock.adjust("1 minute")
          yield* reconciler.reconcileOnce()
          const events = (yield* manager.get("shop", "web")).pods.find(
            (p) => p.name === "web-1",
          )?.events
          expect(events?.map((e) => [e.at, e.reason])).toEqual([
            ["1970-01-01T00:00:00.000Z", "Created"],
            ["1970-01-01T00:00:00.000Z", "Started"],
            ["1970-01-01T00:01:00.000Z", "Unhealthy"],
            ["1970-01-01T00:01:00.000Z", "Failed"],
            ["1970-01-01T00:02:00.000Z", "Unhealthy"],
            ["1970-01-01T00:02:00.000Z", "Created"],
            ["1970-01-01T00:02:00.000Z", "Started"],
            ["1970-01-01T00:02:00.000Z", "Restarted"],
          ])
          expect(events?.[2]?.message).toBe("pod is gone")
        }),
      ),
  )

  it.effect("keeps only the ten most recent events of a replica", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, reconciler } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 1)])
        for (let i = 0; i < 6; i++) {
          yield* host.fake.podman.pods.remove("bm-shop-web-0", { force: true })
          yield* reconciler.reconcileOnce()
        }
        const [replica] = (yield* manager.get("shop", "web")).pods
        expect(replica?.restarts).toBe(6)
        expect(replica?.events).toHaveLength(10)
        expect(replica?.events.at(-1)).toMatchObject({
          reason: "Restarted",
          message: "pod bm-shop-web-0 recreated (restart 6)",
        })
      }),
    ),
  )

  it.effect("a restarted agent's replicas show Adopted", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([deployment("web", 1)])
        const second = yield* startDeployer(host)
        const status = yield* second.manager.get("shop", "web")
        expect(status).toMatchObject({ ready: 1, updated: 1 })
        expect(status.pods[0]?.events.map((e) => e.reason)).toEqual(["Adopted"])
      }),
    ),
  )

  it.effect(
    "with a readiness probe, a running replica is available only while its sidecar is registered",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          const plain = deployment("web", 2)
          const probed = {
            ...plain,
            containers: plain.containers.map((c) => ({
              ...c,
              readinessProbe: {
                container: c.name,
                action: "tcpSocket" as const,
                port: 80,
                initialDelaySeconds: 0,
                periodSeconds: 10,
                timeoutSeconds: 1,
                successThreshold: 1,
                failureThreshold: 3,
              },
            })),
          }
          yield* manager.apply([probed])
          const identity = { namespace: "shop", workload: "web" }
          yield* manager.registered({ ...identity, pod: "web-0" }, true)
          const status = yield* manager.get("shop", "web")
          expect(status).toMatchObject({ desired: 2, ready: 2, available: 1 })
          const waiting = status.pods.find((p) => p.name === "web-1")
          expect(waiting?.message).toMatch(/readiness probe has not passed/)
          // The sidecar withdraws when the probe fails.
          yield* manager.registered({ ...identity, pod: "web-0" }, false)
          expect(yield* manager.get("shop", "web")).toMatchObject({ ready: 2, available: 0 })
        }),
      ),
  )

  it.effect(
    "with only a startup probe, a running replica is not available until its sidecar registers, and the status says the startup probe holds it",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          const plain = deployment("web", 1)
          yield* manager.apply([
            {
              ...plain,
              containers: plain.containers.map((c) => ({
                ...c,
                startupProbe: {
                  container: c.name,
                  action: "exec" as const,
                  command: ["cat", "/tmp/started"],
                  initialDelaySeconds: 0,
                  periodSeconds: 1,
                  timeoutSeconds: 1,
                  successThreshold: 1,
                  failureThreshold: 30,
                },
              })),
            },
          ])
          const before = yield* manager.get("shop", "web")
          expect(before).toMatchObject({ ready: 1, available: 0 })
          expect(before.pods[0]?.message).toMatch(/startup probe has not passed/)
          yield* manager.registered({ namespace: "shop", workload: "web", pod: "web-0" }, true)
          expect(yield* manager.get("shop", "web")).toMatchObject({ ready: 1, available: 1 })
        }),
      ),
  )
})

describe("what a renewal checks", () => {
  it.effect(
    "offered answers the services and registrable of the status, and WorkloadNotFound for an unknown workload",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 3)])
          const status = yield* manager.get("shop", "web")
          const offered = yield* manager.offered!("shop", "web")
          expect(offered.services.length).toBeGreaterThan(0)
          expect(offered).toEqual({
            services: status.services,
            ...(status.registrable === undefined ? {} : { registrable: status.registrable }),
          })
          const missing = yield* Effect.flip(manager.offered!("shop", "nothing"))
          expect(missing._tag).toBe("WorkloadNotFound")
        }),
      ),
  )
})
