/**
 * Creation and removal on the real Podman: release leaves no pod, container or slirp4netns process
 * of that pod; every bad spec fails with its typed error and creates nothing.
 */
import { existsSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { connect, createServer, type Server } from "node:net"
import { defaultSlirpOptions, type SlirpOptions } from "@beemesh/netns"
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import {
  makeIsolatedPod,
  PodmanClient,
  type PodSpecInput,
  waitForLogLine,
} from "../../src/index.js"
import { ensureTestImages } from "../support/images.js"
import { testClientLayer } from "../support/layer.js"
import { slirpProcessesFor, testLabels, testPodSpec, uniqueName } from "../support/pods.js"

const owner = { owner: "podman-integration-test" }

describe("IsolatedPod lifecycle on real Podman", () => {
  layer(testClientLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect(
      "stop ends containers by SIGTERM; release removes the pod, its containers and its slirp4netns process",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const images = yield* ensureTestImages(process.execPath)
          const run = uniqueName("run")
          const scope = yield* Scope.make()
          const pod = yield* makeIsolatedPod(
            testPodSpec(uniqueName("rm"), images, run),
            owner,
          ).pipe(Scope.provide(scope))
          const infra = yield* client.containers.inspect(pod.holderContainerId)
          const netnsPath = infra.NetworkSettings?.SandboxKey ?? ""
          const slirp = slirpProcessesFor(netnsPath)
          expect(slirp).toHaveLength(1)
          const before = yield* client.containers.list({ labels: testLabels(run) })
          expect(before.length).toBe(3) // holder, sidecar, app

          // PID-1 signal handling: with a 2 s stop timeout, both stop on SIGTERM (exit 0), not SIGKILL (137).
          // Only once the sidecar has installed its handler: PID 1 ignores signals it does not handle,
          // and a slow Node start-up under load would otherwise meet SIGTERM before the handler.
          yield* waitForLogLine(pod.sidecar, "sidecar listening", { timeoutMs: 30_000 })
          yield* client.pods.stop(pod.name, { timeoutSeconds: 2 })
          for (const name of [pod.sidecar, ...pod.apps]) {
            const state = (yield* client.containers.inspect(name)).State
            expect([name, state.Status, state.ExitCode]).toEqual([name, "exited", 0])
          }

          yield* Scope.close(scope, Exit.void)

          expect(yield* client.pods.exists(pod.name)).toBe(false)
          expect(yield* client.containers.list({ labels: testLabels(run) })).toEqual([])
          // slirp4netns is reaped by Podman's cleanup; allow it a moment, then it must be gone.
          const deadline = Date.now() + 10_000
          while (slirpProcessesFor(netnsPath).length > 0 && Date.now() < deadline)
            yield* Effect.sleep(50)
          expect(slirpProcessesFor(netnsPath)).toEqual([])
          expect(
            existsSync(`/proc/${slirp[0]!.pid}/cmdline`) && slirpProcessesFor(netnsPath).length > 0,
          ).toBe(false)
        }),
    )

    it.effect(
      "with slirp4netns as the port handler, the published port answers and release removes the API socket Podman leaves behind",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const images = yield* ensureTestImages(process.execPath)
          const run = uniqueName("run")
          const scope = yield* Scope.make()
          const pod = yield* makeIsolatedPod(
            testPodSpec(uniqueName("sock"), images, run, {
              network: { ...defaultSlirpOptions, portHandler: "slirp4netns" },
            }),
            owner,
          ).pipe(Scope.provide(scope))
          const infra = yield* client.containers.inspect(pod.holderContainerId)
          const args = slirpProcessesFor(infra.NetworkSettings?.SandboxKey ?? "")[0]?.args ?? []
          const apiSocket = args[args.indexOf("--api-socket") + 1] ?? ""
          expect(apiSocket).toMatch(/\.net$/)
          expect(existsSync(apiSocket)).toBe(true)
          // slirp4netns itself listens on the published port: no rootlessport.
          yield* waitForLogLine(pod.sidecar, "sidecar listening", { timeoutMs: 30_000 })
          const connected = yield* Effect.callback<boolean>((resume) => {
            const socket = connect(pod.hostPort, pod.hostIp)
            socket.once("connect", () => {
              socket.destroy()
              resume(Effect.succeed(true))
            })
            socket.once("error", () => resume(Effect.succeed(false)))
          })
          expect(connected).toBe(true)

          yield* Scope.close(scope, Exit.void)

          expect(yield* client.pods.exists(pod.name)).toBe(false)
          expect(existsSync(apiSocket)).toBe(false)
        }),
    )

    it.effect(
      "startApps: false runs only the holder (network ready), the rest start with the pod",
      () =>
        Effect.gen(function* () {
          const client = yield* PodmanClient
          const images = yield* ensureTestImages(process.execPath)
          const run = uniqueName("run")
          const scope = yield* Scope.make()
          const pod = yield* makeIsolatedPod(testPodSpec(uniqueName("infra"), images, run), {
            ...owner,
            startApps: false,
          }).pipe(Scope.provide(scope))
          const infra = yield* client.containers.inspect(pod.holderContainerId)
          expect(infra.State.Status).toBe("running")
          expect(slirpProcessesFor(infra.NetworkSettings?.SandboxKey ?? "")).toHaveLength(1)
          for (const name of [pod.sidecar, ...pod.apps]) {
            expect([name, (yield* client.containers.inspect(name)).State.Status]).toEqual([
              name,
              "created",
            ])
          }
          yield* client.pods.start(pod.name)
          for (const name of [pod.sidecar, ...pod.apps]) {
            expect([name, (yield* client.containers.inspect(name)).State.Status]).toEqual([
              name,
              "running",
            ])
          }
          yield* Scope.close(scope, Exit.void)
          expect(yield* client.pods.exists(pod.name)).toBe(false)
        }),
    )

    it.effect("each bad spec fails with its typed error and creates nothing", () =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        const images = yield* ensureTestImages(process.execPath)
        const run = uniqueName("run")
        const base = testPodSpec(uniqueName("bad"), images, run)
        const [sidecar, app] = base.containers
        const missingImage = `localhost/${uniqueName("no-such-image")}:1`
        const cases: ReadonlyArray<readonly [string, PodSpecInput, Record<string, unknown>]> = [
          [
            "a name that is not DNS-1123",
            { ...base, name: "Bad_Name" },
            { _tag: "PodSpecInvalid", field: "name" },
          ],
          [
            "a container name that is not DNS-1123",
            { ...base, containers: [sidecar!, { ...app!, name: "App.1" }] },
            { _tag: "PodSpecInvalid", field: "containers[1].name" },
          ],
          [
            "no sidecar",
            { ...base, containers: [app!] },
            { _tag: "PodSpecInvalid", field: "containers" },
          ],
          [
            "two sidecars",
            { ...base, containers: [sidecar!, { ...sidecar!, name: "sidecar2" }, app!] },
            { _tag: "PodSpecInvalid", field: "containers" },
          ],
          [
            "no app",
            { ...base, containers: [sidecar!] },
            { _tag: "PodSpecInvalid", field: "containers" },
          ],
          [
            "a published port on an app container",
            { ...base, containers: [sidecar!, { ...app!, ports: [9000] }] },
            { _tag: "PodSpecInvalid", field: "containers[1].ports" },
          ],
          [
            "bad slirp4netns options",
            { ...base, network: { mtu: 100 } },
            { _tag: "PodSpecInvalid", field: "network.mtu" },
          ],
          [
            "an image that is not present locally",
            { ...base, containers: [sidecar!, { ...app!, image: missingImage }] },
            { _tag: "ImageMissing", image: missingImage },
          ],
        ]
        for (const [label, spec, expected] of cases) {
          const error = yield* Effect.flip(Effect.scoped(makeIsolatedPod(spec, owner)))
          expect(error, label).toMatchObject(expected)
          expect(yield* client.pods.list({ labels: testLabels(run) }), label).toEqual([])
          expect(yield* client.containers.list({ labels: testLabels(run) }), label).toEqual([])
        }
        const imageError = yield* Effect.flip(
          Effect.scoped(
            makeIsolatedPod(
              { ...base, containers: [sidecar!, { ...app!, image: missingImage }] },
              owner,
            ),
          ),
        )
        expect(imageError.message).toContain(missingImage)
        expect(imageError.message).toContain("build it locally")
      }),
    )

    it.effect("a pod name in use fails with NameInUse and leaves the existing pod alone", () =>
      Effect.gen(function* () {
        const client = yield* PodmanClient
        const images = yield* ensureTestImages(process.execPath)
        const run = uniqueName("run")
        const name = uniqueName("dup")
        const first = yield* makeIsolatedPod(testPodSpec(name, images, run), owner)
        const error = yield* Effect.flip(
          Effect.scoped(makeIsolatedPod(testPodSpec(name, images, run), owner)),
        )
        expect(error).toMatchObject({ _tag: "NameInUse", kind: "pod", name })
        const inspected = yield* client.pods.inspect(name)
        expect(inspected.Id).toBe(first.id)
        expect(inspected.State).toBe("Running")
      }),
    )
  })
})

/**
 * Creating a pod on a host port another listener holds: the error Podman gives (its message must
 * contain `message`), and nothing of the pod is left.
 */
const takenPortFails = (message: string, network?: SlirpOptions) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const images = yield* ensureTestImages(process.execPath)
    const run = uniqueName("run")
    const blocker = yield* Effect.acquireRelease(
      Effect.callback<Server>((resume) => {
        const s = createServer()
        s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
      }),
      (s) => Effect.callback<void>((resume) => void s.close(() => resume(Effect.void))),
    )
    const taken = (blocker.address() as AddressInfo).port
    const name = uniqueName("taken")
    const error = yield* Effect.flip(
      Effect.scoped(
        makeIsolatedPod(
          testPodSpec(name, images, run, {
            hostPort: taken,
            ...(network === undefined ? {} : { network }),
          }),
          owner,
        ),
      ),
    )
    expect(error._tag).toBe("RuntimeFailure")
    expect(error.message).toContain(message)
    expect(yield* client.pods.exists(name)).toBe(false)
    expect(yield* client.containers.list({ labels: testLabels(run) })).toEqual([])
  })

describe("IsolatedPod creation failures on real Podman", () => {
  layer(testClientLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect(
      "a given host port that is taken fails with Podman's message and leaves nothing",
      () => takenPortFails("address already in use"),
    )

    it.effect(
      "with slirp4netns as the port handler, a taken host port fails with slirp4netns' message (which the port retry knows) and leaves nothing",
      () =>
        takenPortFails("slirp_add_hostfwd failed", {
          ...defaultSlirpOptions,
          portHandler: "slirp4netns",
        }),
    )
  })
})
