/**
 * Standby pods on the real Podman with real nftables: a pod made with its sidecar only, its egress
 * policy in force, then claimed — the apps join its network namespace behind that policy, with the
 * claim's hostname and host entries. A claim refused before it starts leaves the pod standing; one
 * that fails after removes it. Traffic goes only to a listener this test owns on the host's
 * loopback, through the slirp4netns host-loopback address.
 */
import { Egress, HostTools, podEgressPolicy } from "@beemesh/netns"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  claimStandbyPod,
  createStandbyPod,
  destroyEnforcedPod,
  PodmanClient,
  waitForPort,
} from "../../src/index.js"
import { execInApp } from "../../src/testing/index.js"
import { countingHostServer } from "../support/hostServer.js"
import { ensureTestImages } from "../support/images.js"
import { testClientLayer } from "../support/layer.js"
import { testPodSpec, uniqueName } from "../support/pods.js"

const TestLayer = Layer.mergeAll(
  testClientLayer,
  Egress.layer.pipe(Layer.provide(HostTools.layer())),
)
const owner = { owner: "podman-integration-test" }

/** A standby pod of the test's sidecar, removed with the scope; and the full spec to claim it. */
const standby = (prefix: string) =>
  Effect.gen(function* () {
    const images = yield* ensureTestImages(process.execPath)
    const name = uniqueName(prefix)
    const spec = testPodSpec(name, images, uniqueName("run"))
    const pod = yield* createStandbyPod(
      { ...spec, containers: spec.containers.filter((c) => c.role === "sidecar") },
      owner,
    )
    yield* Effect.addFinalizer(() => destroyEnforcedPod(pod).pipe(Effect.ignore))
    return { pod, spec }
  })

describe("standby pods on real Podman and nftables", () => {
  layer(TestLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect(
      "claimed: the apps join the standby's namespace behind its policy, with the claim's hostname and hosts",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const egress = yield* Egress
          const host = yield* countingHostServer
          const { pod, spec } = yield* standby("standby")
          expect(pod.apps).toEqual([])
          yield* egress.verify(pod.egress.target, podEgressPolicy([8080]))
          yield* waitForPort(pod.sidecar, 8080, { timeoutMs: 30_000 })
          const claimed = yield* claimStandbyPod(
            { ...spec, hostname: "web-7", hosts: [{ name: "orders", address: "127.0.0.9" }] },
            owner,
          )
          expect(claimed.apps).toEqual([`${pod.name}-app`])
          const app = claimed.apps[0]!
          // Its grace period is the claim's, not the standby holder's (see stopPods).
          const labels = (yield* client.containers.inspect(app)).Config.Labels ?? {}
          expect(labels["io.beemesh.stop-timeout"]).toBe("2")
          const inApp = (cmd: ReadonlyArray<string>) => execInApp(pod, app, cmd)
          expect((yield* inApp(["/bin/hostname"])).stdout.trim()).toBe("web-7")
          const hosts = (yield* inApp(["/bin/cat", "/etc/hosts"])).stdout
          expect(hosts).toMatch(/^127\.0\.0\.9\s+orders$/m)
          // The sidecar (started long before) and the app share the pod's network namespace.
          yield* waitForPort(pod.sidecar, 9000, { timeoutMs: 30_000 })
          const reached = yield* client.containers.exec(pod.sidecar, [
            "/usr/local/bin/node",
            "-e",
            'fetch("http://127.0.0.1:9000/").then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))',
          ])
          expect([reached.exitCode, reached.stdout]).toEqual([0, "app\n"])
          // The policy the standby pod was made with holds for apps added later.
          const out = yield* inApp([
            "/bin/busybox",
            "timeout",
            "3",
            "/bin/wget",
            "-q",
            "-O-",
            `http://10.0.2.2:${host.port}/from-claimed-app`,
          ])
          expect(out.exitCode).not.toBe(0)
          expect(host.requests).toEqual([])
          yield* egress.verify(pod.egress.target, podEgressPolicy([8080]))
        }).pipe(Effect.scoped),
    )

    it.effect(
      "a claim refused before it starts leaves the standby pod; one failing after removes it",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const { pod, spec } = yield* standby("refused")
          const missing = yield* Effect.flip(
            claimStandbyPod(
              {
                ...spec,
                containers: spec.containers.map((c) =>
                  c.role === "app" ? { ...c, image: "localhost/beemesh-test-absent:1" } : c,
                ),
              },
              owner,
            ),
          )
          expect(missing._tag).toBe("ImageMissing")
          expect((yield* client.containers.inspect(pod.sidecar)).State.Running).toBe(true)
          expect(yield* client.containers.list({ pod: pod.name })).toHaveLength(2)
          // Claimed once; a second claim fails creating the app (its name is taken) and the pod,
          // half claimed by then, is removed.
          yield* claimStandbyPod(spec, owner)
          const twice = yield* Effect.flip(claimStandbyPod(spec, owner))
          expect(twice._tag).toBe("NameInUse")
          expect(yield* client.pods.exists(pod.name)).toBe(false)
        }).pipe(Effect.scoped),
    )

    it.effect("a claimed app is given its claim's grace period, not the standby holder's", () =>
      Effect.gen(function* () {
        const images = yield* ensureTestImages(process.execPath)
        const name = uniqueName("grace")
        const spec = testPodSpec(name, images, uniqueName("run"))
        // The standby pod's members get 60 s; the claim says 1.
        const pod = yield* createStandbyPod(
          {
            ...spec,
            stopTimeoutSeconds: 60,
            containers: spec.containers.filter((c) => c.role === "sidecar"),
          },
          owner,
        )
        yield* Effect.addFinalizer(() => destroyEnforcedPod(pod, 0).pipe(Effect.ignore))
        const app = {
          ...spec.containers[1]!,
          // Catches SIGTERM and goes on: only SIGKILL at the end of its grace period ends it.
          command: ["/bin/sh", "-c", "trap 'echo term' TERM; while true; do sleep 1; done"],
        }
        yield* claimStandbyPod(
          { ...spec, stopTimeoutSeconds: 1, containers: [spec.containers[0]!, app] },
          owner,
        )
        yield* Effect.sleep("1 second")
        const started = Date.now()
        yield* destroyEnforcedPod(pod)
        const took = Date.now() - started
        expect(took).toBeGreaterThanOrEqual(900)
        expect(took).toBeLessThan(30_000)
        const client = yield* PodmanClient
        expect(yield* client.pods.exists(pod.name)).toBe(false)
      }).pipe(Effect.scoped),
    )
  })
})
