import { readFile, rm, writeFile } from "node:fs/promises"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { deployment, type FakeHost, makeFakeHost, passUntil, startDeployer } from "./testing"

const podNames = (host: FakeHost) =>
  host.fake.podman.pods.list().pipe(Effect.map((pods) => pods.map((p) => p.Name).sort()))
const podIds = (host: FakeHost) =>
  host.fake.podman.pods.list().pipe(Effect.map((pods) => pods.map((p) => p.Id).sort()))
const saved = (host: FakeHost) =>
  Effect.promise(() => readFile(host.stateFile, "utf8").then((t) => JSON.parse(t)))

describe("WorkloadManager on the fake Podman and the fake Egress", () => {
  it.effect("apply: one enforced pod per replica, all running, the state saved", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        const [status] = yield* manager.apply([deployment("web", 2)])
        expect(status).toMatchObject({ name: "web", replicas: 2, ready: 2 })
        expect(status?.pods.map((p) => [p.pod, p.phase])).toEqual([
          ["bm-shop-web-0", "Running"],
          ["bm-shop-web-1", "Running"],
        ])
        expect(yield* podNames(host)).toEqual(["bm-shop-web-0", "bm-shop-web-1"])
        // Each pod's namespace has the egress policy in force.
        expect(host.fake.egress.inForce().size).toBe(2)
        expect(yield* saved(host)).toMatchObject({
          version: 1,
          workloads: [{ name: "web", replicas: 2 }],
          orphans: [],
        })
      }),
    ),
  )

  it.effect(
    "scale: up keeps the running pods and adds one; down removes the extra ones and their rules",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          const before = yield* podIds(host)
          yield* manager.apply([deployment("web", 3)])
          const after = yield* podIds(host)
          expect(after).toHaveLength(3)
          expect(after).toEqual(expect.arrayContaining(before))
          yield* manager.apply([deployment("web", 1)])
          expect(yield* podNames(host)).toEqual(["bm-shop-web-0"])
          expect(host.fake.egress.inForce().size).toBe(1)
          expect((yield* manager.get("shop", "web")).pods).toHaveLength(1)
          expect(yield* saved(host)).toMatchObject({ workloads: [{ replicas: 1 }] })
        }),
      ),
  )

  it.effect("a changed spec replaces the pods (as its update rolls out)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* host.fake.podman.images.build({ context: "/x", tag: "localhost/web:2" } as never)
        const deployer = yield* startDeployer(host)
        const { manager } = deployer
        yield* manager.apply([deployment("web", 2)])
        const before = yield* podIds(host)
        yield* manager.apply([deployment("web", 2, "localhost/web:2")])
        yield* passUntil(deployer, () =>
          manager
            .get("shop", "web")
            .pipe(Effect.map((s) => s.updated === 2 && s.pods.length === 2)),
        )
        const after = yield* podIds(host)
        expect(after).toHaveLength(2)
        expect(after.some((id) => before.includes(id))).toBe(false)
      }),
    ),
  )

  it.effect("rollback: a new workload that cannot come up leaves no pod, no rule, no state", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 1)])
        const error = yield* Effect.flip(
          manager.apply([deployment("ghost", 3, "localhost/no-such-image:1")]),
        )
        expect(error).toMatchObject({ _tag: "DeployFailed", fault: "client" })
        expect(error.message).toContain("localhost/no-such-image:1")
        expect(yield* podNames(host)).toEqual(["bm-shop-web-0"])
        expect(host.fake.egress.inForce().size).toBe(1)
        expect((yield* manager.list()).map((w) => w.name)).toEqual(["web"])
        expect((yield* Effect.flip(manager.get("shop", "ghost")))._tag).toBe("WorkloadNotFound")
        expect((yield* saved(host)).workloads.map((w: { name: string }) => w.name)).toEqual(["web"])
      }),
    ),
  )

  it.effect(
    "rollback of a scale-up that fails half-way: the pods it created go, the old ones stay",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 1)])
          const before = yield* podIds(host)
          // The second new replica's policy cannot be put in force.
          let installs = 0
          const install = host.fake.egress.install
          Object.assign(host.fake.egress, {
            install: (...args: Parameters<typeof install>) =>
              ++installs === 2
                ? Effect.andThen(
                    Effect.sync(() => host.fake.egress.failOn("install", "nft: boom")),
                    install(...args),
                  )
                : install(...args),
          })
          const error = yield* Effect.flip(manager.apply([deployment("web", 3)]))
          expect(error.message).toContain("nft: boom")
          expect(error).toMatchObject({ fault: "server" })
          expect(yield* podIds(host)).toEqual(before)
          expect((yield* manager.get("shop", "web")).replicas).toBe(1)
        }),
      ),
  )

  it.effect(
    "remove: pods, rules and service records go; the state forgets it; unknown is 404",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const { manager } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          yield* manager.remove("shop", "web")
          expect(yield* podNames(host)).toEqual([])
          expect(host.fake.egress.inForce().size).toBe(0)
          expect(host.unregistered.map((i) => i.pod).sort()).toEqual(["web-0", "web-1"])
          expect(yield* saved(host)).toMatchObject({ workloads: [] })
          const error = yield* Effect.flip(manager.remove("shop", "web"))
          expect(error._tag).toBe("WorkloadNotFound")
        }),
      ),
  )
})

describe("adoption by a restarted agent", () => {
  it.effect(
    "takes its running pods over without recreating them; a flushed policy is re-applied",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const first = yield* startDeployer(host)
          yield* first.manager.apply([deployment("web", 2)])
          const before = yield* podIds(host)
          const [target] = [...first.table.replicas.values()].map((r) => r.egress!.target)
          host.fake.egress.flush(target!)
          const installsBefore = host.fake.egress.installs().length
          const second = yield* startDeployer(host)
          expect(yield* podIds(host)).toEqual(before)
          const status = yield* second.manager.get("shop", "web")
          expect(status.pods.map((p) => [p.pod, p.phase, p.restarts])).toEqual([
            ["bm-shop-web-0", "Running", 0],
            ["bm-shop-web-1", "Running", 0],
          ])
          expect(host.fake.egress.installs().length).toBe(installsBefore + 1)
          expect(host.fake.egress.inForce().size).toBe(2)
        }),
      ),
  )

  it.effect("with a state file, an owned pod no workload wants is removed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([deployment("web", 1), deployment("old", 1)])
        // The state that a later run wrote no longer wants "old".
        const state = yield* saved(host)
        state.workloads = state.workloads.filter((w: { name: string }) => w.name !== "old")
        yield* Effect.promise(() => writeFile(host.stateFile, JSON.stringify(state)))
        yield* startDeployer(host)
        expect(yield* podNames(host)).toEqual(["bm-shop-web-0"])
      }),
    ),
  )

  it.effect("without a state file, owned pods are kept as orphans, reported and left alone", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([deployment("web", 2)])
        const before = yield* podIds(host)
        yield* Effect.promise(() => rm(host.stateFile))
        const second = yield* startDeployer(host)
        expect(yield* podIds(host)).toEqual(before)
        expect(yield* second.manager.list()).toEqual([])
        expect(
          (yield* second.manager.orphans()).map((o) => [o.pod, o.workload, o.replica]),
        ).toEqual([
          ["bm-shop-web-0", "web", "web-0"],
          ["bm-shop-web-1", "web", "web-1"],
        ])
        // Reconcile does not recreate or remove them; the next start still keeps them.
        yield* second.reconciler.reconcileOnce()
        expect(yield* podIds(host)).toEqual(before)
        expect(yield* saved(host)).toMatchObject({ orphans: ["bm-shop-web-0", "bm-shop-web-1"] })
        const third = yield* startDeployer(host)
        expect(yield* podIds(host)).toEqual(before)
        expect(yield* third.manager.orphans()).toHaveLength(2)
        // An operator's DELETE settles them.
        yield* third.manager.remove("shop", "web")
        expect(yield* podNames(host)).toEqual([])
        expect(yield* third.manager.orphans()).toEqual([])
      }),
    ),
  )

  it.effect("re-applying the workload of orphans adopts those it wants as they are", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([deployment("web", 2)])
        const before = yield* podIds(host)
        yield* Effect.promise(() => rm(host.stateFile))
        const second = yield* startDeployer(host)
        const [status] = yield* second.manager.apply([deployment("web", 1)])
        expect(status?.pods.map((p) => p.phase)).toEqual(["Running"])
        const after = yield* podIds(host)
        expect(after).toHaveLength(1)
        expect(before).toContain(after[0])
        expect(yield* second.manager.orphans()).toEqual([])
      }),
    ),
  )

  it.effect("an unusable state file stops the start and removes nothing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const first = yield* startDeployer(host)
        yield* first.manager.apply([deployment("web", 2)])
        yield* Effect.promise(() => writeFile(host.stateFile, "{}"))
        const error = yield* Effect.flip(startDeployer(host))
        expect(error._tag).toBe("StateFileInvalid")
        expect(error.message).toContain(host.stateFile)
        expect(yield* podNames(host)).toEqual(["bm-shop-web-0", "bm-shop-web-1"])
      }),
    ),
  )
})
