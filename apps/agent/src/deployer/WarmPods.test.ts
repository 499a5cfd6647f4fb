import type { ContainerCreateRequest, PodmanClientShape } from "@beemesh/podman"
import { RuntimeFailure } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import type { Workload } from "../Manifest"
import { LABEL_REPLICA, LABEL_STANDBY } from "./PodTemplate"
import { deployment, type FakeHost, makeFakeHost, startDeployer } from "./testing"

const standbyPods = (host: FakeHost) =>
  host.fake.podman.pods
    .list({ labels: { [LABEL_STANDBY]: "1" } })
    .pipe(Effect.map((pods) => pods.map((p) => p.Name).sort()))

/** Until the pool holds `n` ready pods (it fills in the background). */
const filled = (warm: { readonly ready: () => number }, n: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500 && warm.ready() !== n; i++) yield* Effect.sleep("2 millis")
    expect(warm.ready()).toBe(n)
  })

/** The fake Podman, keeping each container's create request (the sidecars' environments). */
const recording = () => {
  const created = new Map<string, ContainerCreateRequest>()
  let failApps = false
  let failPodRemoval = false
  /** Run (forked) as an app container starts: what a fast sidecar does meanwhile. */
  let onApp: Effect.Effect<void> = Effect.void
  const wrap = (fake: PodmanClientShape): PodmanClientShape => ({
    ...fake,
    pods: {
      ...fake.pods,
      remove: (name, opts) =>
        failPodRemoval
          ? Effect.fail(
              new RuntimeFailure({
                operation: "pod remove",
                status: 500,
                podmanMessage: "injected",
              }),
            )
          : fake.pods.remove(name, opts),
    },
    containers: {
      ...fake.containers,
      create: (req) =>
        failApps && req.labels?.["io.beemesh.role"] === "app"
          ? Effect.fail(
              new RuntimeFailure({ operation: "create", status: 500, podmanMessage: "injected" }),
            )
          : fake.containers
              .create(req)
              .pipe(Effect.tap(() => Effect.sync(() => created.set(req.name, req)))),
      // An app's start takes a moment, in which a fast sidecar does what `onApp` does.
      start: (name) =>
        created.get(name)?.labels?.["io.beemesh.role"] === "app"
          ? Effect.forkDetach(onApp).pipe(
              Effect.andThen(Effect.sleep("30 millis")),
              Effect.andThen(fake.containers.start(name)),
            )
          : fake.containers.start(name),
    },
  })
  const tokenOf = (pod: string) => created.get(`${pod}-sidecar`)?.env?.BEEMESH_STANDBY_TOKEN ?? ""
  return {
    wrap,
    tokenOf,
    failAppsFromNowOn: () => (failApps = true),
    failPodRemoval: (fail: boolean) => (failPodRemoval = fail),
    whenAppStarts: (effect: Effect.Effect<void>) => (onApp = effect),
  }
}

const withUpstream = (w: Workload): Workload => ({
  ...w,
  upstreams: [{ service: "orders", port: 7000 }],
})

/** A deployer over a fake host with `size` standby pods, once its pool is full. */
const warmDeployer = (size: number) =>
  Effect.gen(function* () {
    const host = yield* makeFakeHost
    const podman = recording()
    const deployer = yield* startDeployer(host, podman.wrap, undefined, size)
    yield* filled(deployer.warm, size)
    return { host, podman, deployer }
  })

describe("warm pods: standby pods made ahead of need, claimed by replicas", () => {
  it.live(
    "a replica claims a ready pod: its sidecar gets the replica's variables once, its apps join with the replica's labels and host entries; the pool refills",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, podman, deployer } = yield* warmDeployer(2)
          const standbys = yield* standbyPods(host)
          for (const name of standbys) expect(name).toMatch(/^bm-standby-[0-9a-f]{10}$/)
          const oldest = standbys.find((s) => podman.tokenOf(s) !== "")!
          // Its sidecar waits: nothing to hand over yet.
          const token = podman.tokenOf(oldest)
          expect(token).toMatch(/^[0-9a-f]{64}$/)

          yield* deployer.manager.apply([withUpstream(deployment("web", 1))])
          const replica = (yield* deployer.manager.get("shop", "web")).pods[0]!
          expect(replica.pod).toBe("bm-shop-web-0")
          expect(standbys).toContain(replica.podmanPod)
          const pod = replica.podmanPod!
          const app = yield* host.fake.podman.containers.inspect(`${pod}-app`)
          expect(app.Config.Labels?.[LABEL_REPLICA]).toBe("web-0")
          expect(host.fake.podman.addedHosts(`${pod}-holder`)).toContain("127.0.0.2\torders")
          expect(yield* host.fake.podman.pods.exists("bm-shop-web-0")).toBe(false)
          expect(replica.events.map((e) => e.message).join("\n")).toContain(
            `standby pod ${pod} claimed`,
          )

          const claimed = yield* deployer.warm.answer(podman.tokenOf(pod), 10)
          expect(claimed._tag).toBe("Claimed")
          const env = claimed._tag === "Claimed" ? claimed.env : {}
          expect([env.BEEMESH_NAMESPACE, env.BEEMESH_WORKLOAD, env.BEEMESH_POD]).toEqual([
            "shop",
            "web",
            "web-0",
          ])
          expect(env.BEEMESH_ADVERTISE).toBe(`/ip4/127.0.0.1/tcp/${replica.hostPort}`)
          expect(env.BEEMESH_STANDBY_TOKEN).toBeUndefined()
          // Spent: the token is no longer any pod's.
          expect((yield* deployer.warm.answer(podman.tokenOf(pod), 10))._tag).toBe("Unknown")
          // The other one still waits; a token that is none of them is refused.
          const other = standbys.find((s) => s !== pod)!
          expect((yield* deployer.warm.answer(podman.tokenOf(other), 10))._tag).toBe("Waiting")
          expect((yield* deployer.warm.answer("0".repeat(64), 10))._tag).toBe("Unknown")
          expect((yield* deployer.warm.answer("not hex", 10))._tag).toBe("Unknown")

          yield* filled(deployer.warm, 2)
          expect(yield* standbyPods(host)).toHaveLength(3)
          // Removing the workload removes its (claimed) pod.
          yield* deployer.manager.remove("shop", "web")
          expect(yield* host.fake.podman.pods.exists(pod)).toBe(false)
          expect(yield* standbyPods(host)).toHaveLength(2)
        }),
      ),
  )

  it.live(
    "unclaimed pods go with the agent, their sidecars told so; a waiting sidecar hears it at once",
    () =>
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const podman = recording()
        const scope = yield* Scope.make()
        const deployer = yield* startDeployer(host, podman.wrap, undefined, 1).pipe(
          Scope.provide(scope),
        )
        yield* filled(deployer.warm, 1)
        const [pod] = yield* standbyPods(host)
        const waiting = yield* Effect.forkChild(deployer.warm.answer(podman.tokenOf(pod!)))
        yield* Effect.sleep("10 millis")
        yield* Scope.close(scope, Exit.void)
        expect((yield* Fiber.join(waiting))._tag).toBe("Retired")
        expect(yield* host.fake.podman.pods.list()).toEqual([])
        expect(host.fake.egress.inForce().size).toBe(0)
      }),
  )

  it.live(
    "a restarted agent adopts a claimed pod as its replica and removes unclaimed ones an earlier run left",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const podman = recording()
          // The first agent is killed: its scope is never closed.
          const killed = yield* Scope.make()
          const first = yield* startDeployer(host, podman.wrap, undefined, 2).pipe(
            Scope.provide(killed),
          )
          yield* filled(first.warm, 2)
          yield* first.manager.apply([deployment("web", 1)])
          const claimed = (yield* first.manager.get("shop", "web")).pods[0]!.podmanPod!
          yield* filled(first.warm, 2)
          const before = yield* standbyPods(host)
          expect(before).toHaveLength(3)

          const second = yield* startDeployer(host, podman.wrap)
          expect(yield* standbyPods(host)).toEqual([claimed])
          const status = yield* second.manager.get("shop", "web")
          expect(status.pods.map((p) => [p.pod, p.podmanPod, p.phase, p.restarts])).toEqual([
            ["bm-shop-web-0", claimed, "Running", 0],
          ])
          expect(yield* second.manager.orphans()).toEqual([])
          const replica = second.table.replicas.get("bm-shop-web-0")!
          expect(replica.egress).toBeDefined()
          // Its containers die: the reconciler sees the pod by its Podman name and recreates it.
          yield* host.fake.podman.exitContainer(`${claimed}-app`, 1)
          yield* second.reconciler.reconcileOnce()
          const after = (yield* second.manager.get("shop", "web")).pods[0]!
          expect(after.restarts).toBe(1)
          expect(yield* host.fake.podman.pods.exists(claimed)).toBe(false)
          expect(yield* host.fake.podman.pods.exists("bm-shop-web-0")).toBe(true)
        }),
      ),
  )

  it.live(
    "a sidecar registering while its apps are still being made is answered once they run, not refused",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { podman, deployer } = yield* warmDeployer(1)
          const answers: Array<string> = []
          podman.whenAppStarts(
            deployer.manager
              .registered({ namespace: "shop", workload: "web", pod: "web-0" }, true)
              .pipe(
                Effect.match({
                  onFailure: (e) => answers.push(e._tag),
                  onSuccess: () => answers.push("registered"),
                }),
                Effect.asVoid,
              ),
          )
          yield* deployer.manager.apply([deployment("web", 1)])
          for (let i = 0; i < 100 && answers.length === 0; i++) yield* Effect.sleep("2 millis")
          expect(answers).toEqual(["registered"])
          expect((yield* deployer.manager.get("shop", "web")).pods[0]?.registered).toBe(true)
        }),
      ),
  )

  it.live(
    "a claimed pod Podman cannot remove is kept as an orphan under its Podman name, removed later",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { host, podman, deployer } = yield* warmDeployer(1)
          yield* deployer.manager.apply([deployment("web", 1)])
          const pod = (yield* deployer.manager.get("shop", "web")).pods[0]!.podmanPod!
          podman.failPodRemoval(true)
          const refused = yield* Effect.flip(deployer.manager.remove("shop", "web"))
          expect(refused._tag).toBe("WorkloadNotRemoved")
          expect(yield* deployer.manager.orphans()).toEqual([
            { pod, namespace: "shop", workload: "web", replica: "web-0" },
          ])
          podman.failPodRemoval(false)
          yield* deployer.manager.remove("shop", "web")
          expect(yield* host.fake.podman.pods.exists(pod)).toBe(false)
          expect(yield* deployer.manager.orphans()).toEqual([])
        }),
      ),
  )

  it.live("a claim that fails leaves no pod: the standby pod is removed, its sidecar retired", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { host, podman, deployer } = yield* warmDeployer(1)
        const [pod] = yield* standbyPods(host)
        const token = podman.tokenOf(pod!)
        podman.failAppsFromNowOn()
        const failed = yield* Effect.flip(deployer.manager.apply([deployment("web", 1)]))
        expect(failed.message).toContain("injected")
        expect(yield* host.fake.podman.pods.exists(pod!)).toBe(false)
        expect((yield* deployer.warm.answer(token, 10))._tag).toBe("Unknown")
        expect(host.fake.egress.inForce().size).toBe(
          (yield* standbyPods(host)).length, // only refilled standby pods hold rules
        )
      }),
    ),
  )
})
