import type { PodmanClientShape } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { ReplicaStatus } from "../Workloads"
import { deployment, type FakeHost, makeFakeHost, makeFakeHostWith, startDeployer } from "./testing"

const HOUR = 60 * 60_000

/** One turn of the event loop (creating a pod allocates a real host port: real I/O). */
const turn = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 1)))

/**
 * Lets the background fibers (event watcher, reconcile loop) run until `check` holds. `read` must
 * compute anew when run: the manager's `get` computes its status when called (so suspend it).
 */
const settle = <A, E>(
  read: Effect.Effect<A, E>,
  check: (a: A) => boolean,
  what: string,
): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      const value = yield* read
      if (check(value)) return value
      yield* turn
    }
    return yield* Effect.die(new Error(`never happened: ${what}`))
  })

/** Lets the background fibers run a while (for checks that something did NOT happen). */
const idle = Effect.gen(function* () {
  for (let i = 0; i < 50; i++) yield* turn
})

/**
 * Podman whose app `bm-shop-web-0-app` exits with `code` as soon as it starts, at each start for
 * which `crash()` holds; `then` runs after the start (and the exit) before the caller goes on.
 */
const exitingOnStart =
  (host: FakeHost, code: number, crash: () => boolean, then: Effect.Effect<void> = Effect.void) =>
  (fake: PodmanClientShape): PodmanClientShape => ({
    ...fake,
    containers: {
      ...fake.containers,
      start: (name) =>
        fake.containers
          .start(name)
          .pipe(
            Effect.andThen(
              name === "bm-shop-web-0-app" && crash()
                ? host.fake.podman.exitContainer(name, code)
                : Effect.void,
            ),
            Effect.andThen(then),
          ),
    },
  })

const CRASH_LOG = `${"booting\n".repeat(10)}fatal: config missing\n`

describe("restarts, driven by Podman's events", () => {
  it.effect(
    "a crash-looping app: restarted at once, then after 10 s, then 20 s, in CrashLoopBackOff with its exit code and log tail meanwhile; its neighbour is untouched",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHostWith({
            logs: (c) =>
              c === "bm-shop-web-0-app"
                ? { stdout: CRASH_LOG, stderr: "" }
                : { stdout: "", stderr: "" },
          })
          const { manager, reconciler } = yield* startDeployer(host)
          yield* manager.apply([deployment("web", 2)])
          const neighbour = yield* host.fake.podman.pods.inspect("bm-shop-web-1")
          // The safety scan is an hour away: only events and back-off timers drive this.
          yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
          const replica = (name: string) =>
            Effect.suspend(() => manager.get("shop", "web")).pipe(
              Effect.map((s) => s.pods.find((p) => p.name === name) as ReplicaStatus),
            )
          const crash = host.fake.podman.exitContainer("bm-shop-web-0-app", 3)

          yield* crash
          yield* settle(
            replica("web-0"),
            (r) => r.restarts === 1 && r.phase === "Running",
            "first restart",
          )

          yield* crash
          const backingOff = yield* settle(
            replica("web-0"),
            (r) => r.phase === "CrashLoopBackOff",
            "back-off",
          )
          expect(backingOff).toMatchObject({
            restarts: 1,
            restartAt: new Date(10_000).toISOString(),
            lastTermination: {
              container: "app",
              exitCode: 3,
              logTail: ["booting", "booting", "booting", "booting", "fatal: config missing"],
            },
          })
          expect(backingOff.message).toMatch(
            /^back-off 10s restarting failed replica: container bm-shop-web-0-app is exited with code 3/,
          )
          // Its pod is left as it is while it waits: nothing is recreated before it is due.
          yield* TestClock.adjust("9 seconds")
          yield* idle
          expect(yield* replica("web-0")).toMatchObject({ phase: "CrashLoopBackOff", restarts: 1 })
          yield* TestClock.adjust("1 second")
          yield* settle(
            replica("web-0"),
            (r) => r.restarts === 2 && r.phase === "Running",
            "second restart",
          )

          yield* crash
          const longer = yield* settle(
            replica("web-0"),
            (r) => r.phase === "CrashLoopBackOff",
            "second back-off",
          )
          expect(longer.message).toMatch(/^back-off 20s /)
          yield* TestClock.adjust("19 seconds")
          yield* idle
          expect((yield* replica("web-0")).restarts).toBe(2)
          yield* TestClock.adjust("1 second")
          const back = yield* settle(
            replica("web-0"),
            (r) => r.restarts === 3 && r.events.at(-1)?.reason === "Restarted",
            "third restart",
          )
          expect(back.events.slice(-5).map((e) => e.reason)).toEqual([
            "Exited",
            "BackOff",
            "Created",
            "Started",
            "Restarted",
          ])
          expect(back.events.at(-4)?.message).toBe(
            "back-off 20s restarting failed replica: container bm-shop-web-0-app is exited with code 3",
          )

          // The neighbour kept its pod and never restarted.
          expect((yield* host.fake.podman.pods.inspect("bm-shop-web-1")).Id).toBe(neighbour.Id)
          expect(yield* replica("web-1")).toMatchObject({ phase: "Running", restarts: 0 })
        }),
      ),
  )

  it.effect("a replica that ran 10 min before it crashed is restarted at once again", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, reconciler } = yield* startDeployer(host)
        yield* manager.apply([deployment("web", 1)])
        yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
        const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
          Effect.map((s) => s.pods[0] as ReplicaStatus),
        )
        const crash = host.fake.podman.exitContainer("bm-shop-web-0-app", 1)
        yield* crash
        yield* settle(replica, (r) => r.restarts === 1 && r.phase === "Running", "first restart")
        yield* TestClock.adjust("10 minutes")
        yield* crash
        yield* settle(
          replica,
          (r) => r.restarts === 2 && r.phase === "Running",
          "an immediate restart",
        )
        // Its back-off counts from the start again: the next crash waits 10 s.
        yield* crash
        const again = yield* settle(replica, (r) => r.phase === "CrashLoopBackOff", "back-off")
        expect(again.message).toMatch(/^back-off 10s /)
      }),
    ),
  )

  it.effect("an app that dies while its pod is being recreated is seen by the pass after it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        let crashOnStart = false
        // Once armed, the app exits as soon as it starts: its `died` event arrives while the
        // reconciler is still at work on the replica (and is not a reason for a pass on its own).
        const { manager, reconciler } = yield* startDeployer(
          host,
          exitingOnStart(host, 1, () => crashOnStart),
        )
        yield* manager.apply([deployment("web", 1)])
        yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
        crashOnStart = true
        yield* host.fake.podman.exitContainer("bm-shop-web-0-app", 1)
        const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
          Effect.map((s) => s.pods[0] as ReplicaStatus),
        )
        const backingOff = yield* settle(
          replica,
          (r) => r.phase === "CrashLoopBackOff",
          "the second exit noticed",
        )
        expect(backingOff).toMatchObject({ restarts: 1, lastTermination: { exitCode: 1 } })
      }),
    ),
  )

  it.effect(
    "an app that dies while its replica is first created is restarted at once, not at the safety scan",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          let crashes = 1
          // The app exits as soon as it starts, the first time: its `died` event arrives while the
          // apply's creation is still at work on the replica (Pending, not yet Running).
          const { manager, reconciler } = yield* startDeployer(
            host,
            // The event is handled before the creation ends (as on a busy host): a turn after.
            exitingOnStart(host, 3, () => crashes-- > 0, turn),
          )
          // The safety scan is an hour away: only events (and what they leave noted) drive this.
          yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
          yield* idle
          yield* manager.apply([deployment("web", 1)])
          // A second on the clock, against the safety scan's hour.
          yield* TestClock.adjust("1 second")
          const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
            Effect.map((s) => s.pods[0] as ReplicaStatus),
          )
          const restarted = yield* settle(
            replica,
            (r) => r.restarts === 1 && r.phase === "Running",
            "the exit during creation noticed",
          )
          expect(restarted).toMatchObject({ lastTermination: { exitCode: 3 } })
        }),
      ),
  )

  it.effect(
    "a creation that fails is not retried in a loop by its own events: the next pass retries it",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          let attempts = 0
          const { manager, reconciler } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              create: (req) =>
                Effect.suspend(() => {
                  if (req.name === "bm-shop-web-0") attempts += 1
                  return fake.pods.create(req)
                }),
            },
          }))
          yield* manager.apply([deployment("web", 1)])
          yield* reconciler.watch(30_000).pipe(Effect.forkScoped)
          host.fake.egress.failOn("install", "nft: no such table")
          yield* host.fake.podman.pods.remove("bm-shop-web-0", { force: true })
          const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
            Effect.map((s) => s.pods[0] as ReplicaStatus),
          )
          yield* settle(replica, (r) => r.phase === "Failed", "the failed recreation")
          // Its creation removed what it made (Podman reports that): no pass follows from it.
          yield* idle
          expect(attempts).toBe(2)
          host.fake.egress.failOn("install", undefined)
          yield* TestClock.adjust("30 seconds")
          yield* settle(replica, (r) => r.phase === "Running", "the retry of the safety scan")
          expect(attempts).toBe(3)
        }),
      ),
  )

  it.effect("without an event, the safety scan finds a lost pod within its interval", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        // Podman reports nothing (as for slirp4netns dying, or while its event stream is down).
        const { manager, reconciler } = yield* startDeployer(host, (fake) => ({
          ...fake,
          events: () => Stream.never,
        }))
        yield* manager.apply([deployment("web", 1)])
        yield* reconciler.watch(30_000).pipe(Effect.forkScoped)
        yield* idle
        yield* host.fake.podman.pods.remove("bm-shop-web-0", { force: true })
        const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
          Effect.map((s) => s.pods[0] as ReplicaStatus),
        )
        yield* TestClock.adjust("29 seconds")
        yield* idle
        expect((yield* replica).restarts).toBe(0)
        yield* TestClock.adjust("1 second")
        yield* settle(replica, (r) => r.restarts === 1 && r.phase === "Running", "recreation")
        expect(yield* host.fake.podman.pods.exists("bm-shop-web-0")).toBe(true)
      }),
    ),
  )

  it.effect(
    "a container being stopped (a liveness kill's grace) is left until it exits, and that exit is backed off; one stopping past 30 s is replaced",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          // The container Podman reports as `stopping` (between the signal and the exit).
          let stoppingId: string | undefined
          const { manager, reconciler } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              inspect: (name) =>
                fake.pods.inspect(name).pipe(
                  Effect.map((pod) => ({
                    ...pod,
                    Containers: (pod.Containers ?? []).map((c) =>
                      c.Id === stoppingId ? { ...c, State: "stopping" } : c,
                    ),
                  })),
                ),
            },
          }))
          const stopApp = Effect.map(
            Effect.suspend(() => host.fake.podman.containers.inspect("bm-shop-web-0-app")),
            (c) => {
              stoppingId = c.Id
            },
          )
          yield* manager.apply([deployment("web", 1)])
          const replica = Effect.suspend(() => manager.get("shop", "web")).pipe(
            Effect.map((s) => s.pods[0] as ReplicaStatus),
          )

          yield* stopApp
          yield* reconciler.reconcileOnce()
          yield* TestClock.adjust("29 seconds")
          yield* reconciler.reconcileOnce()
          expect(yield* replica).toMatchObject({ phase: "Running", restarts: 0 })
          expect((yield* replica).events.map((e) => e.reason)).not.toContain("Unhealthy")

          // Its exit comes: restarted at once (the first), its exit noted.
          stoppingId = undefined
          yield* host.fake.podman.exitContainer("bm-shop-web-0-app", 137)
          yield* reconciler.reconcileOnce()
          expect(yield* replica).toMatchObject({
            phase: "Running",
            restarts: 1,
            lastTermination: { container: "app", exitCode: 137 },
          })

          // The next stop never ends: 30 s after it was first seen, the pod is replaced anyway.
          yield* stopApp
          yield* reconciler.reconcileOnce()
          yield* TestClock.adjust("29 seconds")
          yield* reconciler.reconcileOnce()
          expect((yield* replica).restarts).toBe(1)
          yield* TestClock.adjust("1 second")
          yield* reconciler.reconcileOnce()
          const replaced = yield* replica
          expect(replaced).toMatchObject({ phase: "Running", restarts: 2 })
          expect(replaced.events.map((e) => `${e.reason}: ${e.message}`)).toContain(
            "Unhealthy: container bm-shop-web-0-app is stopping",
          )
        }),
      ),
  )
})

describe("reconcile and the API", () => {
  it.effect(
    "an apply answers while reconcile is recreating a pod; a delete of that replica waits for it and leaves nothing",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const host = yield* makeFakeHost
          const entered = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          let hold = false
          // Creating pod bm-shop-web-1 blocks (once armed) until the test releases it.
          const { manager, reconciler } = yield* startDeployer(host, (fake) => ({
            ...fake,
            pods: {
              ...fake.pods,
              create: (req) =>
                hold && req.name === "bm-shop-web-1"
                  ? Deferred.succeed(entered, undefined).pipe(
                      Effect.andThen(Deferred.await(release)),
                      Effect.andThen(fake.pods.create(req)),
                    )
                  : fake.pods.create(req),
            },
          }))
          yield* manager.apply([deployment("web", 2)])
          hold = true
          yield* host.fake.podman.pods.remove("bm-shop-web-1", { force: true })
          const pass = yield* reconciler.reconcileOnce().pipe(Effect.forkChild)
          yield* Deferred.await(entered)

          // Reconcile is inside the create of web-1: the API reads and applies meanwhile.
          const web = yield* manager.get("shop", "web")
          expect(web.pods.find((p) => p.name === "web-1")?.phase).toBe("Restarting")
          const [api] = yield* manager.apply([deployment("api", 1)])
          expect(api).toMatchObject({ ready: 1 })
          expect(pass.pollUnsafe()).toBeUndefined()

          // Removing web must not pull web-1 from under the reconciler: it waits for it.
          const removal = yield* manager.remove("shop", "web").pipe(Effect.forkChild)
          yield* idle
          expect(removal.pollUnsafe()).toBeUndefined()
          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(pass)
          yield* Fiber.join(removal)
          expect((yield* host.fake.podman.pods.list()).map((p) => p.Name)).toEqual([
            "bm-shop-api-0",
          ])
          expect(host.fake.egress.inForce().size).toBe(1)
          expect((yield* manager.list()).map((w) => w.name)).toEqual(["api"])
        }),
      ),
  )
})

describe("a Pod's restartPolicy (fake host)", () => {
  const job = (restartPolicy: "OnFailure" | "Never") => ({
    ...deployment("job", 1),
    kind: "Pod" as const,
    restartPolicy,
  })

  it.effect("Never: an app that exited stays exited, Failed or Succeeded by its code", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, reconciler } = yield* startDeployer(host)
        yield* manager.apply([job("Never")])
        yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
        const pod = Effect.suspend(() => manager.get("shop", "job")).pipe(
          Effect.map((s) => s.pods[0] as ReplicaStatus),
        )
        yield* host.fake.podman.exitContainer("bm-shop-job-app", 4)
        const failed = yield* settle(pod, (p) => p.phase === "Failed", "Failed")
        expect(failed).toMatchObject({
          restarts: 0,
          lastTermination: { container: "app", exitCode: 4 },
          message: expect.stringContaining("not restarted (restartPolicy Never)"),
        })
        yield* reconciler.reconcileOnce()
        yield* idle
        expect(yield* pod).toMatchObject({ phase: "Failed", restarts: 0 })
        // The pod is kept as it ended (its logs stay readable).
        expect((yield* host.fake.podman.pods.inspect("bm-shop-job")).Name).toBe("bm-shop-job")
      }),
    ),
  )

  it.effect("a restarted agent keeps the policy: the ended Pod is left as it ended", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { manager } = yield* startDeployer(host)
            yield* manager.apply([job("Never")])
          }),
        )
        yield* host.fake.podman.exitContainer("bm-shop-job-app", 0)
        const { manager, reconciler } = yield* startDeployer(host)
        yield* reconciler.reconcileOnce()
        yield* reconciler.reconcileOnce()
        const [replica] = (yield* manager.get("shop", "job")).pods
        expect(replica).toMatchObject({ phase: "Succeeded", restarts: 0 })
      }),
    ),
  )

  it.effect("OnFailure: restarted after a non-zero exit, Succeeded after exit 0", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { manager, reconciler } = yield* startDeployer(host)
        yield* manager.apply([job("OnFailure")])
        yield* reconciler.watch(HOUR).pipe(Effect.forkScoped)
        const pod = Effect.suspend(() => manager.get("shop", "job")).pipe(
          Effect.map((s) => s.pods[0] as ReplicaStatus),
        )
        yield* host.fake.podman.exitContainer("bm-shop-job-app", 1)
        yield* settle(pod, (p) => p.restarts === 1 && p.phase === "Running", "restart")
        yield* host.fake.podman.exitContainer("bm-shop-job-app", 0)
        const done = yield* settle(pod, (p) => p.phase === "Succeeded", "Succeeded")
        expect(done).toMatchObject({ restarts: 1, lastTermination: { exitCode: 0 } })
        yield* reconciler.reconcileOnce()
        expect(yield* pod).toMatchObject({ phase: "Succeeded", restarts: 1 })
      }),
    ),
  )
})
