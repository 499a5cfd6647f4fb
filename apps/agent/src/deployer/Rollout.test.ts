import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { Workload } from "../Manifest"
import type { UpdatePolicy } from "../UpdateStrategy"
import { defaultUpdatePolicy } from "../UpdateStrategy"
import {
  APP_IMAGE,
  type Deployer,
  deployment,
  type FakeHost,
  makeFakeHost,
  passUntil,
  registerRunning,
  startDeployer,
} from "./testing"

const V2 = "localhost/web:2"
const withPolicy = (workload: Workload, update: Partial<UpdatePolicy>): Workload => ({
  ...workload,
  update: { ...defaultUpdatePolicy, ...update },
})
const statefulSet = (replicas: number, image = APP_IMAGE, update?: Partial<UpdatePolicy>) =>
  withPolicy({ ...deployment("db", replicas, image), kind: "StatefulSet" }, update ?? {})
const podIds = (host: FakeHost) =>
  host.fake.podman.pods
    .list()
    .pipe(Effect.map((pods) => new Map(pods.map((p) => [p.Name, p.Id] as const))))
const status = (deployer: Deployer, name = "web") => deployer.manager.get("shop", name)
const progressing = (deployer: Deployer, name = "web") =>
  status(deployer, name).pipe(Effect.map((s) => s.conditions.find((c) => c.type === "Progressing")))
/** Pods whose replica runs the current revision, and those that do not. */
const versions = (deployer: Deployer, name = "web") =>
  status(deployer, name).pipe(
    Effect.map((s) => ({
      current: s.pods.filter((p) => p.revision === s.revision).map((p) => p.name),
      old: s.pods.filter((p) => p.revision !== s.revision).map((p) => p.name),
    })),
  )

const setUp = (...workloads: ReadonlyArray<Workload>) =>
  Effect.gen(function* () {
    const host = yield* makeFakeHost
    yield* host.fake.podman.images.build({ contextDir: "/x", tag: V2 })
    const deployer = yield* startDeployer(host)
    yield* deployer.manager.apply(workloads)
    yield* registerRunning(deployer)
    return { host, deployer }
  })

describe("Deployment updates roll", () => {
  it.effect(
    "RollingUpdate: new replicas ready before old ones go, never above replicas + maxSurge nor below replicas - maxUnavailable",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 3))
          const before = yield* podIds(host)
          const [applied] = yield* deployer.manager.apply([deployment("web", 3, V2)])
          // Recorded, not done: the old pods are untouched when apply answers.
          expect(yield* podIds(host)).toEqual(before)
          expect(applied?.conditions.find((c) => c.type === "Progressing")?.reason).toBe(
            "ReplicasUpdating",
          )
          let passes = 0
          while (passes++ < 30) {
            const s = yield* status(deployer)
            if (s.updated === 3 && s.pods.length === 3) break
            // Defaults on 3: surge 1, unavailable 0.
            expect(s.pods.length).toBeLessThanOrEqual(4)
            expect(
              s.pods.filter((p) => p.phase === "Running" && p.registered).length,
            ).toBeGreaterThanOrEqual(3)
            yield* registerRunning(deployer)
            yield* deployer.reconciler.reconcileOnce()
          }
          const after = yield* podIds(host)
          expect(after.size).toBe(3)
          expect([...after.values()].some((id) => [...before.values()].includes(id))).toBe(false)
          expect(yield* progressing(deployer)).toMatchObject({
            status: "True",
            reason: "ReplicasAvailable",
          })
          expect(deployer.table.rollouts.size).toBe(0)
          // Every old replica's services were withdrawn before its pod went.
          expect(host.unregistered.map((p) => p.pod).sort()).toEqual(["web-0", "web-1", "web-2"])
        }),
      ),
  )

  it.effect(
    "a new version that never becomes ready: the old replicas keep running, and after the deadline Progressing is False saying why",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 2))
          const before = yield* podIds(host)
          yield* deployer.manager.apply([
            withPolicy(deployment("web", 2, V2), { progressDeadlineSeconds: 30 }),
          ])
          const neverReady = (name: string) => !["web-0", "web-1"].includes(name)
          yield* passUntil(deployer, () => Effect.succeed(false), 5, neverReady)
          expect(yield* progressing(deployer)).toMatchObject({ status: "True" })
          yield* TestClock.adjust("31 seconds")
          yield* passUntil(deployer, () => Effect.succeed(false), 2, neverReady)
          const condition = yield* progressing(deployer)
          expect(condition).toMatchObject({ status: "False", reason: "ProgressDeadlineExceeded" })
          expect(condition?.message).toMatch(
            /made no progress for 30s: replica web-2: its sidecar has not registered; 2 replicas of the previous revision keep serving/,
          )
          // The old pods are the same ones, never recreated; one new one waits beside them.
          const after = yield* podIds(host)
          expect(after.get("bm-shop-web-0")).toBe(before.get("bm-shop-web-0"))
          expect(after.get("bm-shop-web-1")).toBe(before.get("bm-shop-web-1"))
          expect(yield* versions(deployer)).toEqual({ current: ["web-2"], old: ["web-0", "web-1"] })
          const serving = (yield* status(deployer)).pods.filter((p) => p.registered)
          expect(serving.map((p) => p.name)).toEqual(["web-0", "web-1"])
        }),
      ),
  )

  it.effect(
    "a new version that crashes at start: recreated, never ready; the reason is its exit",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 2))
          yield* deployer.manager.apply([
            withPolicy(deployment("web", 2, V2), { progressDeadlineSeconds: 10 }),
          ])
          for (let n = 0; n < 4; n++) {
            yield* deployer.reconciler.reconcileOnce()
            // Its app exits as soon as it starts.
            yield* host.fake.podman.containers.stop("bm-shop-web-2-app").pipe(Effect.ignore)
            yield* TestClock.adjust("4 seconds")
          }
          yield* deployer.reconciler.reconcileOnce()
          const condition = yield* progressing(deployer)
          expect(condition).toMatchObject({ status: "False", reason: "ProgressDeadlineExceeded" })
          expect(condition?.message).toMatch(
            // With the restart back-off the message leads with it; the exit is still the reason.
            /replica web-2: .*container bm-shop-web-2-app is exited.*\(restarted \d times\)/,
          )
          expect((yield* versions(deployer)).old).toEqual(["web-0", "web-1"])
        }),
      ),
  )

  it.effect("re-applying the previous version ends a failed update: its new replicas go", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { host, deployer } = yield* setUp(deployment("web", 2))
        const before = yield* podIds(host)
        yield* deployer.manager.apply([deployment("web", 2, V2)])
        yield* deployer.reconciler.reconcileOnce()
        expect((yield* versions(deployer)).current).toEqual(["web-2"])
        yield* deployer.manager.apply([deployment("web", 2)])
        yield* passUntil(deployer, () =>
          status(deployer).pipe(Effect.map((s) => s.pods.length === 2 && s.updated === 2)),
        )
        expect(yield* podIds(host)).toEqual(before)
        expect(deployer.table.rollouts.size).toBe(0)
      }),
    ),
  )

  it.effect("Recreate: the old replicas go, then the new ones come", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { deployer } = yield* setUp(deployment("web", 2))
        yield* deployer.manager.apply([withPolicy(deployment("web", 2, V2), { type: "Recreate" })])
        yield* deployer.reconciler.reconcileOnce()
        expect((yield* status(deployer)).pods).toEqual([])
        yield* deployer.reconciler.reconcileOnce()
        expect(yield* versions(deployer)).toEqual({ current: ["web-0", "web-1"], old: [] })
      }),
    ),
  )

  it.effect("a later document that fails undoes a recorded update: nothing rolls", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { host, deployer } = yield* setUp(deployment("web", 2))
        const before = yield* podIds(host)
        yield* Effect.flip(
          deployer.manager.apply([
            deployment("web", 2, V2),
            deployment("ghost", 1, "localhost/no-such-image:1"),
          ]),
        )
        yield* passUntil(deployer, () => Effect.succeed(false), 3)
        expect(yield* podIds(host)).toEqual(before)
        expect(deployer.table.rollouts.size).toBe(0)
      }),
    ),
  )
})

describe("the image's identity is part of the revision", () => {
  it.effect(
    "re-applying after the tag was rebuilt rolls the workload; an unchanged image does not",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 1, V2))
          const before = yield* podIds(host)
          yield* deployer.manager.apply([deployment("web", 1, V2)])
          yield* passUntil(deployer, () => Effect.succeed(false), 3)
          expect(yield* podIds(host)).toEqual(before)
          const revision = (yield* status(deployer)).revision
          yield* host.fake.podman.images.build({ contextDir: "/x", tag: V2 })
          yield* deployer.manager.apply([deployment("web", 1, V2)])
          expect((yield* status(deployer)).revision).not.toBe(revision)
          yield* passUntil(deployer, () =>
            status(deployer).pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
          )
          const after = yield* podIds(host)
          expect([...after.values()].some((id) => [...before.values()].includes(id))).toBe(false)
        }),
      ),
  )
})

describe("StatefulSet updates", () => {
  it.effect("RollingUpdate: one ordinal at a time, highest first, each ready before the next", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { deployer } = yield* setUp(statefulSet(3))
        yield* deployer.manager.apply([statefulSet(3, V2)])
        const order: Array<string> = []
        for (let n = 0; n < 20; n++) {
          const { current } = yield* versions(deployer, "db")
          for (const name of current) if (!order.includes(name)) order.push(name)
          if (current.length === 3) break
          // At most one replica is not ready at any time.
          const s = yield* status(deployer, "db")
          expect(s.pods.filter((p) => !p.registered).length).toBeLessThanOrEqual(1)
          yield* deployer.reconciler.reconcileOnce()
          yield* registerRunning(deployer)
        }
        expect(order).toEqual(["db-2", "db-1", "db-0"])
      }),
    ),
  )

  it.effect("RollingUpdate waits while the updated ordinal is not ready", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { deployer } = yield* setUp(statefulSet(2))
        yield* deployer.manager.apply([statefulSet(2, V2)])
        yield* passUntil(
          deployer,
          () => Effect.succeed(false),
          5,
          (name) => name === "db-1",
        )
        expect(yield* versions(deployer, "db")).toEqual({ current: ["db-1"], old: ["db-0"] })
      }),
    ),
  )

  it.effect("OnDelete: a replica takes the new version only when its pod is gone", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { host, deployer } = yield* setUp(statefulSet(2, APP_IMAGE, { type: "OnDelete" }))
        yield* deployer.manager.apply([statefulSet(2, V2, { type: "OnDelete" })])
        yield* passUntil(deployer, () => Effect.succeed(false), 3)
        expect((yield* versions(deployer, "db")).current).toEqual([])
        yield* host.fake.podman.pods.remove("bm-shop-db-0", { force: true })
        yield* passUntil(deployer, () => Effect.succeed(false), 2)
        expect(yield* versions(deployer, "db")).toEqual({ current: ["db-0"], old: ["db-1"] })
      }),
    ),
  )
})

describe("readiness is the sidecar's registration", () => {
  it.effect(
    "a registration from a pod whose app is down is refused, and its replica is not ready",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 1))
          const identity = { namespace: "shop", workload: "web", pod: "web-0" }
          // Not ready (as a replica is until its first registration), and its app is down.
          yield* deployer.manager.registered(identity, false)
          yield* host.fake.podman.containers.stop("bm-shop-web-0-app")
          const refused = yield* Effect.flip(deployer.manager.registered(identity, true))
          expect(refused).toMatchObject({ _tag: "ReplicaNotReady", pod: "bm-shop-web-0" })
          expect(refused.message).toMatch(/container bm-shop-web-0-app is exited/)
          expect((yield* status(deployer)).pods[0]?.registered).toBe(false)
          yield* deployer.reconciler.reconcileOnce()
          yield* deployer.manager.registered(identity, true)
          expect((yield* status(deployer)).pods[0]?.registered).toBe(true)
          yield* deployer.manager.registered(identity, false)
          expect((yield* status(deployer)).pods[0]?.registered).toBe(false)
        }),
      ),
  )
})

describe("an update survives a restart of the agent", () => {
  it.effect(
    "the old replicas are taken over as they are and keep serving; the update goes on",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 2))
          yield* deployer.manager.apply([deployment("web", 2, V2)])
          const neverReady = (name: string) => !["web-0", "web-1"].includes(name)
          yield* passUntil(deployer, () => Effect.succeed(false), 3, neverReady)
          const before = yield* podIds(host)
          expect(before.size).toBe(3)
          const restarted = yield* startDeployer(host)
          expect(yield* podIds(host)).toEqual(before)
          expect(yield* versions(restarted)).toEqual({
            current: ["web-2"],
            old: ["web-0", "web-1"],
          })
          expect(restarted.table.rollouts.has("shop/web")).toBe(true)
          yield* passUntil(restarted, () =>
            status(restarted).pipe(Effect.map((s) => s.updated === 2 && s.pods.length === 2)),
          )
          expect(yield* versions(restarted)).toEqual({ current: ["web-2", "web-1"], old: [] })
          expect(restarted.table.rollouts.size).toBe(0)
        }),
      ),
  )

  it.effect(
    "an old replica that cannot be adopted goes; it is not recreated at a mixed version",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, deployer } = yield* setUp(deployment("web", 2))
          yield* deployer.manager.apply([deployment("web", 2, V2)])
          const neverReady = (name: string) => !["web-0", "web-1"].includes(name)
          yield* passUntil(deployer, () => Effect.succeed(false), 2, neverReady)
          const before = yield* podIds(host)
          // web-0's policy is gone and cannot be put back when the agent restarts.
          host.fake.egress.flush(deployer.table.replicas.get("bm-shop-web-0")!.egress!.target)
          host.fake.egress.failOn("install", "nft: no such table")
          const restarted = yield* startDeployer(host)
          host.fake.egress.failOn("install", undefined)
          yield* passUntil(restarted, () => Effect.succeed(false), 1, neverReady)
          // The old web-0 went; its name now holds a replica of the current revision (surge 1).
          expect(yield* versions(restarted)).toEqual({
            current: ["web-2", "web-0"],
            old: ["web-1"],
          })
          const after = yield* podIds(host)
          expect(after.get("bm-shop-web-0")).not.toBe(before.get("bm-shop-web-0"))
          expect(after.get("bm-shop-web-1")).toBe(before.get("bm-shop-web-1"))
        }),
      ),
  )
})
