/**
 * Enforced pods on the real Podman with real nftables: the policy is in force in the pod's
 * namespace, the app cannot leave while the sidecar can, adoption verifies and re-applies, destroy
 * removes the pod and then releases its rules without error. Traffic goes only to a listener this
 * test owns on the host's loopback, reached through the slirp4netns host-loopback address.
 */
import { Egress, HostTools, podEgressPolicy, sidecarOnly } from "@beemesh/netns"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  adoptEnforcedPod,
  createEnforcedPod,
  destroyEnforcedPod,
  makeEnforcedPod,
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

const hostServer = Effect.map(countingHostServer, (s) => s.port)

describe("enforced pods on real Podman and nftables", () => {
  layer(TestLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect(
      "the policy is in force: the sidecar reaches the host loopback, the app does not",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const egress = yield* Egress
          const images = yield* ensureTestImages(process.execPath)
          const port = yield* hostServer
          const pod = yield* makeEnforcedPod(
            testPodSpec(uniqueName("enf"), images, uniqueName("run")),
            owner,
          )
          yield* egress.verify(pod.egress.target, sidecarOnly([8080]))
          yield* waitForPort(pod.sidecar, 8080, { timeoutMs: 30_000 })
          const url = `http://10.0.2.2:${port}/`
          const sidecar = yield* client.containers.exec(pod.sidecar, [
            "/usr/local/bin/node",
            "-e",
            `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t), () => process.exit(1))`,
          ])
          expect([sidecar.exitCode, sidecar.stdout]).toEqual([0, "host"])
          // busybox wget's own -T crashes; `timeout` bounds the attempt the drop rule stalls.
          yield* egress.verify(pod.egress.target, podEgressPolicy([8080]))
          const app = yield* execInApp(pod, pod.apps[0]!, [
            "/bin/busybox",
            "timeout",
            "3",
            "/bin/wget",
            "-q",
            "-O-",
            url,
          ])
          expect(app.exitCode).not.toBe(0)
          expect(app.stdout).not.toContain("host")
          // The same entry reaches the pod's own loopback: the failure above is the rule's doing.
          const local = yield* execInApp(pod, pod.apps[0]!, [
            "/bin/wget",
            "-q",
            "-O-",
            "http://127.0.0.1:9000/",
          ])
          expect([local.exitCode, local.stdout]).toEqual([0, "app\n"])
        }).pipe(Effect.scoped),
    )

    it.effect(
      "an app whose first instruction dials out never gets through, though it is initialized while the rules go in",
      () =>
        Effect.gen(function* () {
          const egress = yield* Egress
          const images = yield* ensureTestImages(process.execPath)
          const host = yield* countingHostServer
          // The rules take a second longer to go in: `podman init` of the app (under way meanwhile)
          // must run nothing of its image, or its wget would reach the server in that second.
          const slowEgress = Layer.succeed(Egress, {
            ...egress,
            install: (...args) =>
              Effect.sleep("1 second").pipe(Effect.andThen(egress.install(...args))),
          })
          const spec = testPodSpec(uniqueName("first"), images, uniqueName("run"))
          const app = {
            ...spec.containers[1]!,
            command: [
              "/bin/sh",
              "-c",
              `/bin/busybox timeout 3 /bin/wget -q -O- http://10.0.2.2:${host.port}/app-first; exec /bin/sleep 600`,
            ],
          }
          const pod = yield* makeEnforcedPod(
            { ...spec, containers: [spec.containers[0]!, app] },
            owner,
          ).pipe(Effect.provide(slowEgress))
          // The app has run (its wget is over once `timeout` gives up, within 3 s of its start).
          yield* Effect.sleep("4 seconds")
          const client = yield* PodmanClient
          expect((yield* client.containers.inspect(pod.apps[0]!)).State.Running).toBe(true)
          expect(host.requests).toEqual([])
        }).pipe(Effect.scoped),
    )

    it.effect("adoption re-applies missing rules; destroy removes the pod, then its rules", () =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        const egress = yield* Egress
        const images = yield* ensureTestImages(process.execPath)
        const name = uniqueName("adopt")
        const pod = yield* createEnforcedPod(testPodSpec(name, images, uniqueName("run")), owner)
        yield* Effect.addFinalizer(() => destroyEnforcedPod(pod).pipe(Effect.ignore))
        const verified = yield* adoptEnforcedPod(name)
        expect(verified.namespace).toBe(pod.egress.namespace)
        yield* egress.remove(pod.egress)
        expect(yield* egress.list(pod.egress.target)).toBeUndefined()
        yield* adoptEnforcedPod(name)
        yield* egress.verify(pod.egress.target, sidecarOnly([8080]))

        yield* destroyEnforcedPod(pod)
        expect(yield* client.pods.exists(name)).toBe(false)
        // The namespace is gone with the pod: releasing its rules again is a no-op.
        yield* egress.remove(pod.egress)
        const error = yield* Effect.flip(adoptEnforcedPod(name))
        expect(error).toMatchObject({ _tag: "PodEgressFailed", operation: "adopt" })
      }).pipe(Effect.scoped),
    )
  })
})
