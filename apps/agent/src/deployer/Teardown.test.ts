import { RuntimeFailure } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { WorkloadNotRemoved } from "../Workloads"
import { inTurn, removeReplicas } from "./Teardown"
import { deployment, type FakeHost, makeFakeHost, startDeployer } from "./testing"
import { newReplica } from "./WorkloadTable"

const replicas = (count: number) =>
  Array.from({ length: count }, (_, i) => newReplica(deployment("web", count), `web-${i}`))

const podNames = (host: FakeHost) =>
  host.fake.podman.pods.list().pipe(Effect.map((pods) => pods.map((p) => p.Name).sort()))

describe("removeReplicas", () => {
  it.effect("every replica is tried whatever fails; each failure names its pod and why", () =>
    Effect.gen(function* () {
      const tried: Array<string> = []
      const failures = yield* removeReplicas(replicas(5), (replica) =>
        Effect.suspend(() => {
          tried.push(replica.pod)
          return replica.name === "web-1" || replica.name === "web-3"
            ? Effect.fail({ message: `${replica.name} is busy` })
            : Effect.void
        }),
      )
      expect(tried.sort()).toEqual(replicas(5).map((r) => r.pod))
      expect(failures).toEqual([
        { pod: "bm-shop-web-1", reason: "web-1 is busy" },
        { pod: "bm-shop-web-3", reason: "web-3 is busy" },
      ])
    }),
  )

  it.effect("no more than `concurrency` removals run at once, and they do overlap", () =>
    Effect.gen(function* () {
      let running = 0
      let most = 0
      const failures = yield* removeReplicas(
        replicas(12),
        () =>
          Effect.acquireUseRelease(
            Effect.sync(() => {
              running += 1
              most = Math.max(most, running)
            }),
            () => Effect.yieldNow,
            () =>
              Effect.sync(() => {
                running -= 1
              }),
          ),
        3,
      )
      expect(failures).toEqual([])
      expect(most).toBe(3)
    }),
  )
})

describe("removeReplicas in steps", () => {
  it.effect(
    "every replica is signalled before any pod is removed; only removals queue; records go after each",
    () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        let removing = 0
        let most = 0
        const failures = yield* removeReplicas(
          replicas(10),
          {
            stop: (all) =>
              Effect.sync(() =>
                all.map((replica) => {
                  log.push(`stop ${replica.name}`)
                  return replica.name
                }),
              ),
            stopped: () => Effect.yieldNow,
            remove: (replica, stopping) =>
              Effect.acquireUseRelease(
                Effect.sync(() => {
                  expect(stopping).toBe(replica.name)
                  removing += 1
                  most = Math.max(most, removing)
                  log.push(`remove ${replica.name}`)
                }),
                () =>
                  replica.name === "web-7" ? Effect.fail({ message: "busy" }) : Effect.yieldNow,
                () => Effect.sync(() => (removing -= 1)),
              ),
            removed: (replica) => Effect.sync(() => log.push(`removed ${replica.name}`)),
            settle: (all) => Effect.sync(() => log.push(`settle ${all.length}`)),
          },
          3,
        )
        expect(failures).toEqual([{ pod: "bm-shop-web-7", reason: "busy" }])
        const first = log.findIndex((line) => line.startsWith("remove "))
        expect(log.slice(0, first)).toEqual(replicas(10).map((r) => `stop ${r.name}`))
        expect(most).toBe(3)
        // Records only of what went, each after its own removal; the settling last, with every stop.
        expect(log.filter((line) => line.startsWith("removed ")).sort()).toEqual(
          replicas(10)
            .filter((r) => r.name !== "web-7")
            .map((r) => `removed ${r.name}`)
            .sort(),
        )
        for (const r of replicas(10).filter((r) => r.name !== "web-7"))
          expect(log.indexOf(`removed ${r.name}`)).toBeGreaterThan(log.indexOf(`remove ${r.name}`))
        expect(log.at(-1)).toBe("settle 10")
      }),
  )

  it.effect("a replica still in its grace period holds no place in the queue", () =>
    Effect.gen(function* () {
      const slow = yield* Deferred.make<void>()
      const removed: Array<string> = []
      const fiber = yield* removeReplicas(
        replicas(6),
        {
          stop: (all) => Effect.succeed(all.map((replica) => replica.name)),
          // web-0 and web-1 wait (their processes still shut down) until the others are gone.
          stopped: (name) =>
            name === "web-0" || name === "web-1" ? Deferred.await(slow) : Effect.void,
          remove: (replica) => Effect.sync(() => removed.push(replica.name)),
        },
        2,
      ).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      while (removed.length < 4) yield* Effect.yieldNow
      expect(removed.sort()).toEqual(["web-2", "web-3", "web-4", "web-5"])
      yield* Deferred.succeed(slow, undefined)
      expect(yield* Fiber.join(fiber)).toEqual([])
      expect(removed.sort()).toEqual(replicas(6).map((r) => r.name))
    }),
  )
})

describe("inTurn", () => {
  it.effect("each replica is signalled only once the one before it is gone and settled", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const failures = yield* removeReplicas(
        replicas(3),
        inTurn({
          stop: (all) =>
            Effect.sync(() =>
              all.map((replica) => {
                log.push(`stop ${replica.name}`)
                return replica.name
              }),
            ),
          stopped: (name) => Effect.sync(() => log.push(`stopped ${name}`)),
          remove: (replica) =>
            replica.name === "web-1"
              ? Effect.fail({ message: "busy" })
              : Effect.sync(() => log.push(`remove ${replica.name}`)),
          settle: (stops) => Effect.sync(() => log.push(`settle ${stops.join(",")}`)),
        }),
        1,
      )
      expect(failures).toEqual([{ pod: "bm-shop-web-1", reason: "busy" }])
      expect(log).toEqual([
        "stop web-0",
        "stopped web-0",
        "remove web-0",
        "settle web-0",
        "stop web-1",
        "stopped web-1",
        "settle web-1",
        "stop web-2",
        "stopped web-2",
        "remove web-2",
        "settle web-2",
      ])
    }),
  )
})

describe("removing a workload's pods on the fake Podman", () => {
  it.effect(
    "a pod Podman cannot remove is reported by name and kept as an orphan; removing again retries it",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          let refusing = true
          const { manager } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              remove: (name, opts) =>
                refusing && name === "bm-shop-web-2"
                  ? Effect.fail(
                      new RuntimeFailure({
                        operation: "pod remove",
                        status: 500,
                        podmanMessage: "device or resource busy",
                      }),
                    )
                  : fake.pods.remove(name, opts),
            },
          }))
          yield* manager.apply([deployment("web", 4)])
          const error = yield* Effect.flip(manager.remove("shop", "web"))
          expect(error).toBeInstanceOf(WorkloadNotRemoved)
          expect(error.message).toMatch(/bm-shop-web-2 \(.*device or resource busy/)
          // The others are gone, their records withdrawn; the one that stayed is known.
          expect(yield* podNames(host)).toEqual(["bm-shop-web-2"])
          expect(host.unregistered.map((p) => p.pod).sort()).toEqual(["web-0", "web-1", "web-3"])
          expect((yield* manager.orphans()).map((o) => o.pod)).toEqual(["bm-shop-web-2"])
          expect(yield* manager.list()).toEqual([])
          // Its egress rules stay while its pod does.
          expect(host.fake.egress.inForce().size).toBe(1)
          refusing = false
          yield* manager.remove("shop", "web")
          expect(yield* podNames(host)).toEqual([])
          expect(yield* manager.orphans()).toEqual([])
        }),
      ),
  )

  it.effect(
    "a replica the reconciler is recreating goes once it is done, without holding back the others",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const removed: Array<string> = []
          const { manager, table } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              remove: (name, opts) =>
                fake.pods
                  .remove(name, opts)
                  .pipe(Effect.tap(() => Effect.sync(() => removed.push(name)))),
            },
          }))
          yield* manager.apply([deployment("web", 4)])
          const recreating = yield* Deferred.make<void>()
          table.inFlight.set("bm-shop-web-2", recreating)
          const removal = yield* manager.remove("shop", "web").pipe(Effect.forkChild)
          while (removed.length < 3) yield* Effect.yieldNow
          expect(removed.sort()).toEqual(["bm-shop-web-0", "bm-shop-web-1", "bm-shop-web-3"])
          for (let i = 0; i < 20; i++) yield* Effect.yieldNow
          expect(removed).not.toContain("bm-shop-web-2")
          table.inFlight.delete("bm-shop-web-2")
          yield* Deferred.succeed(recreating, undefined)
          yield* Fiber.join(removal)
          expect(yield* podNames(host)).toEqual([])
          expect(host.unregistered.map((p) => p.pod).sort()).toEqual([
            "web-0",
            "web-1",
            "web-2",
            "web-3",
          ])
        }),
      ),
  )

  it.effect("scaling down removes the surplus on the same path and withdraws their records", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 10)])
        yield* manager.apply([deployment("web", 3)])
        expect(yield* podNames(host)).toEqual(["bm-shop-web-0", "bm-shop-web-1", "bm-shop-web-2"])
        expect(host.unregistered.map((p) => p.pod).sort()).toEqual(
          Array.from({ length: 7 }, (_, i) => `web-${i + 3}`).sort(),
        )
        expect(host.fake.egress.inForce().size).toBe(3)
      }),
    ),
  )

  it.effect(
    "a scale-down that cannot remove a pod fails naming it, and the workload is put back",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              remove: (name, opts) =>
                name === "bm-shop-web-4"
                  ? Effect.fail(
                      new RuntimeFailure({
                        operation: "pod remove",
                        status: 500,
                        podmanMessage: "device or resource busy",
                      }),
                    )
                  : fake.pods.remove(name, opts),
            },
          }))
          yield* manager.apply([deployment("web", 5)])
          const error = yield* Effect.flip(manager.apply([deployment("web", 2)]))
          expect(error.message).toMatch(/bm-shop-web-4 \(.*device or resource busy/)
          // All or nothing: the request failed, so the workload has its 5 replicas again.
          expect((yield* manager.get("shop", "web")).pods).toHaveLength(5)
          expect(yield* podNames(host)).toHaveLength(5)
        }),
      ),
  )
})
