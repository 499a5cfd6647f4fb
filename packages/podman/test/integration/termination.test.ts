/**
 * A pod's termination in steps on the real Podman: pods signalled together spend their grace
 * periods at once, a pod goes as soon as its members have exited, and the grace period is an
 * upper bound (a member still running when it runs out is killed).
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import {
  awaitStopped,
  makeIsolatedPod,
  PodmanClient,
  reapSlirps,
  removeStoppedPod,
  stopPods,
  waitForLogLine,
} from "../../src/index.js"
import { ensureTestImages } from "../support/images.js"
import { testClientLayer } from "../support/layer.js"
import { slirpProcessesFor, testLabels, testPodSpec, uniqueName } from "../support/pods.js"

const owner = { owner: "podman-integration-test" }

/** Catches SIGTERM and exits 2 s later (a shutdown that takes its time). */
const SLOW_APP = "trap 'sleep 2; exit 0' TERM; echo ready; while :; do sleep 1 & wait; done"
/** Catches SIGTERM and goes on (only SIGKILL ends it). */
const STUBBORN_APP = "trap 'echo still here' TERM; echo ready; while :; do sleep 1 & wait; done"

/**
 * node as PID 1 with no SIGTERM handler of its own: node's built-in one is in place (SigCgt shows
 * SIGTERM caught), restores the default action and raises the signal again, which the kernel drops
 * for a namespace's init. The signal is lost: what a sidecar still starting does with it.
 */
const DEAF_NODE = [
  'require("node:http").createServer().listen(8080, () => console.log("sidecar listening"))',
].join("\n")

const appWith = (script: string) => (spec: ReturnType<typeof testPodSpec>) => ({
  ...spec,
  containers: spec.containers.map((c) =>
    c.role === "app" ? { ...c, command: ["/bin/sh", "-c", script] } : c,
  ),
})

describe("stopping pods in steps on real Podman", () => {
  layer(testClientLayer, { excludeTestServices: true, timeout: "180 seconds" })((it) => {
    it.effect(
      "pods signalled together wait out their shutdowns at once; a stubborn member is killed at the end of its grace period",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const images = yield* ensureTestImages(process.execPath)
          const run = uniqueName("run")
          const scope = yield* Scope.make()
          const slow = appWith(SLOW_APP)
          const pods = yield* Effect.forEach(
            [
              slow(testPodSpec(uniqueName("slow"), images, run, { stopTimeoutSeconds: 30 })),
              slow(testPodSpec(uniqueName("slow"), images, run, { stopTimeoutSeconds: 30 })),
              slow(testPodSpec(uniqueName("slow"), images, run, { stopTimeoutSeconds: 30 })),
              appWith(STUBBORN_APP)(
                testPodSpec(uniqueName("stubborn"), images, run, { stopTimeoutSeconds: 3 }),
              ),
            ],
            (spec) => makeIsolatedPod(spec, owner).pipe(Scope.provide(scope)),
          )
          yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
          for (const pod of pods) {
            // Signals count only once the handlers are in place.
            yield* waitForLogLine(pod.sidecar, "sidecar listening", { timeoutMs: 30_000 })
            yield* waitForLogLine(pod.apps[0]!, "ready", { timeoutMs: 30_000 })
          }
          const sandboxes = yield* Effect.forEach(pods, (pod) =>
            client.containers
              .inspect(pod.holderContainerId)
              .pipe(Effect.map((h) => h.NetworkSettings?.SandboxKey ?? "")),
          )

          const started = Date.now()
          const stops = yield* stopPods(pods.map((p) => p.name))
          expect(stops.map((s) => s.name)).toEqual(pods.map((p) => p.name))
          // Each pod's sidecar and app were sent SIGTERM; the holder was left to the removal.
          for (const stop of stops) expect(stop.terminating).toHaveLength(2)
          const [a, b, c, stubborn] = stops
          yield* Effect.all([awaitStopped(a!), awaitStopped(b!), awaitStopped(c!)], {
            concurrency: "unbounded",
          })
          const slowDone = Date.now() - started
          // Three 2 s shutdowns at once, not one after another (6 s), nor their 30 s grace period.
          expect(slowDone).toBeGreaterThanOrEqual(1_900)
          expect(slowDone).toBeLessThan(5_000)
          yield* awaitStopped(stubborn!)
          const stubbornDone = Date.now() - started
          expect(stubbornDone).toBeGreaterThanOrEqual(2_900)
          expect(stubbornDone).toBeLessThan(6_000)
          for (const pod of pods)
            for (const name of [pod.sidecar, ...pod.apps])
              expect([name, (yield* client.containers.inspect(name)).State.Running]).toEqual([
                name,
                false,
              ])

          for (const stop of stops) yield* removeStoppedPod(stop)
          yield* reapSlirps(stops)
          for (const pod of pods) expect(yield* client.pods.exists(pod.name)).toBe(false)
          expect(yield* client.containers.list({ labels: testLabels(run) })).toEqual([])
          for (const sandbox of sandboxes) expect(slirpProcessesFor(sandbox)).toEqual([])
        }),
    )

    it.effect(
      "a member with a stop timeout of its own is killed at its end, not the pod's, when its SIGTERM is lost",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const images = yield* ensureTestImages(process.execPath)
          const run = uniqueName("run")
          const scope = yield* Scope.make()
          const spec = testPodSpec(uniqueName("deaf"), images, run, { stopTimeoutSeconds: 30 })
          const pod = yield* makeIsolatedPod(
            {
              ...spec,
              containers: spec.containers.map((c) =>
                c.role === "sidecar"
                  ? {
                      ...c,
                      command: ["/usr/local/bin/node", "-e", DEAF_NODE],
                      stopTimeoutSeconds: 2,
                    }
                  : c,
              ),
            },
            owner,
          ).pipe(Scope.provide(scope))
          yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
          yield* waitForLogLine(pod.sidecar, "sidecar listening", { timeoutMs: 30_000 })
          const sidecar = yield* client.containers.inspect(pod.sidecar)
          expect(sidecar.Config.StopTimeout).toBe(2)
          expect(sidecar.Config.Labels?.["io.beemesh.stop-timeout"]).toBe("2")

          const started = Date.now()
          const [stop] = yield* stopPods([pod.name])
          // Taken to handle SIGTERM (node's own handler): signalled and given time, not killed.
          expect(stop!.terminating.map((t) => t.pid)).toContain(sidecar.State.Pid)
          yield* awaitStopped(stop!)
          const done = Date.now() - started
          // Its own 2 s, not the pod's 30 s; the SIGKILL at its end is what ended it.
          expect(done).toBeGreaterThanOrEqual(1_900)
          expect(done).toBeLessThan(6_000)
          yield* Effect.sleep("500 millis")
          const ended = yield* client.containers.inspect(pod.sidecar)
          expect([ended.State.Running, ended.State.ExitCode]).toEqual([false, 137])

          yield* removeStoppedPod(stop!)
          yield* reapSlirps([stop!])
          expect(yield* client.pods.exists(pod.name)).toBe(false)
        }),
    )
  })
})
