/**
 * Isolated pods on the real Podman: default network options, the sidecar as the only published port,
 * a shared pod-local loopback, host.containers.internal reaching the host's loopback, waits.
 * Traffic goes only to 127.0.0.1, inside the pod, and to the slirp4netns host-loopback address.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { defaultSlirpOptions, parseSlirpArgs } from "@beemesh/netns"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  type IsolatedPod,
  makeIsolatedPod,
  PodmanClient,
  waitForHealthy,
  waitForLogLine,
  waitForPort,
  waitForRunning,
} from "../../src/index.js"
import { containerLimits } from "../../src/internal/limits.js"
import { execInApp } from "../../src/testing/index.js"
import { ensureTestImages } from "../support/images.js"
import { testClientLayer } from "../support/layer.js"
import { slirpProcessesFor, testPodSpec, uniqueName } from "../support/pods.js"

class SharedPod extends Context.Service<SharedPod, IsolatedPod>()("test/SharedPod") {}

const run = uniqueName("run")

const sharedPodLayer = Layer.effect(
  SharedPod,
  Effect.gen(function* () {
    const images = yield* ensureTestImages(process.execPath)
    const pod = yield* makeIsolatedPod(testPodSpec(uniqueName("iso"), images, run), {
      owner: "podman-integration-test",
    })
    yield* waitForPort(pod.sidecar, 8080, { timeoutMs: 30_000 })
    yield* waitForPort(pod.apps[0]!, 9000, { timeoutMs: 30_000 })
    return pod
  }),
).pipe(Layer.provideMerge(testClientLayer))

/** A one-shot HTTP GET from the host, to 127.0.0.1 only. */
const getLocal = (port: number) =>
  Effect.promise(() => fetch(`http://127.0.0.1:${port}/`).then((r) => r.text()))

const nodeFetch = (url: string) => [
  "/usr/local/bin/node",
  "-e",
  `fetch(${JSON.stringify(url)}).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(String(e.cause ?? e)); process.exit(1) })`,
]

describe("IsolatedPod on real Podman", () => {
  layer(sharedPodLayer, { excludeTestServices: true, timeout: "120 seconds" })((it) => {
    it.effect("runs on slirp4netns with exactly the default options", () =>
      Effect.gen(function* () {
        const pod = yield* SharedPod
        const client = yield* PodmanClient
        // The holder owns the pod's network; sidecar and app join it.
        const holder = yield* client.containers.inspect(pod.holder)
        expect(holder.HostConfig.NetworkMode).toBe("slirp4netns")
        for (const name of [pod.sidecar, ...pod.apps]) {
          const c = yield* client.containers.inspect(name)
          expect([name, c.HostConfig.NetworkMode]).toEqual([name, `container:${holder.Id}`])
        }
        // The slirp4netns process of THIS pod (found by its namespace path) got the seed's options.
        const netnsPath = holder.NetworkSettings?.SandboxKey ?? ""
        expect(netnsPath).not.toBe("")
        const procs = slirpProcessesFor(netnsPath)
        expect(procs).toHaveLength(1)
        // Keep the option flags; drop Podman's plumbing (--enable-sandbox, -c, -e 3, -r 4, paths).
        const optionFlags = procs[0]!.args.filter((a) =>
          /^--(mtu|cidr|enable-ipv6|disable-host-loopback|outbound-addr6?)(=|$)/.test(a),
        )
        expect(optionFlags).not.toContain("--disable-host-loopback")
        const parsed = yield* parseSlirpArgs(optionFlags)
        expect(parsed).toEqual(defaultSlirpOptions)
      }),
    )

    it.effect("publishes only the sidecar's port 8080, and the host port reaches the sidecar", () =>
      Effect.gen(function* () {
        const pod = yield* SharedPod
        const client = yield* PodmanClient
        const holder = yield* client.containers.inspect(pod.holder)
        expect(holder.HostConfig.PortBindings).toEqual({
          "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(pod.hostPort) }],
        })
        for (const name of [pod.sidecar, ...pod.apps]) {
          const c = yield* client.containers.inspect(name)
          expect(Object.keys(c.HostConfig.PortBindings ?? {})).toEqual([])
        }
        expect(yield* getLocal(pod.hostPort)).toBe(`sidecar:${pod.name}`)
      }),
    )

    it.effect("app and sidecar share the pod's loopback", () =>
      Effect.gen(function* () {
        const pod = yield* SharedPod
        const client = yield* PodmanClient
        const fromApp = yield* execInApp(pod, pod.apps[0]!, [
          "/bin/wget",
          "-q",
          "-O-",
          "http://127.0.0.1:8080/",
        ])
        expect(fromApp).toMatchObject({ exitCode: 0, stdout: `sidecar:${pod.name}` })
        const fromSidecar = yield* client.containers.exec(
          pod.sidecar,
          nodeFetch("http://127.0.0.1:9000/"),
        )
        expect(fromSidecar).toMatchObject({ exitCode: 0, stdout: "app\n" })
      }),
    )

    it.effect("host.containers.internal reaches a listener on the host's 127.0.0.1", () =>
      Effect.gen(function* () {
        const pod = yield* SharedPod
        const client = yield* PodmanClient
        const token = uniqueName("agent")
        const server = yield* Effect.acquireRelease(
          Effect.callback<Server>((resume) => {
            const s = createServer((_, res) => res.end(token))
            s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
          }),
          (s) => Effect.callback<void>((resume) => void s.close(() => resume(Effect.void))),
        )
        const port = (server.address() as AddressInfo).port
        const hosts = yield* client.containers.exec(pod.sidecar, [
          "/usr/local/bin/node",
          "-e",
          'process.stdout.write(require("fs").readFileSync("/etc/hosts","utf8"))',
        ])
        expect(hosts.stdout).toMatch(/^10\.0\.2\.2\s+host\.containers\.internal$/m)
        expect(pod.hostGateway).toBe("10.0.2.2")
        const answer = yield* client.containers.exec(
          pod.sidecar,
          nodeFetch(`http://host.containers.internal:${port}/`),
        )
        expect(answer).toMatchObject({ exitCode: 0, stdout: token })
      }),
    )

    it.effect("starts containers with runc and rlimits within this host's hard limits", () =>
      Effect.gen(function* () {
        const pod = yield* SharedPod
        const client = yield* PodmanClient
        const c = yield* client.containers.inspect(pod.sidecar)
        expect(c.OCIRuntime).toBe("runc")
        const nofile = (c.HostConfig.Ulimits ?? []).find((u) => u.Name === "RLIMIT_NOFILE")
        const limits = containerLimits()
        expect(nofile).toEqual({ Name: "RLIMIT_NOFILE", Soft: limits.nofile, Hard: limits.nofile })
        const nproc = (c.HostConfig.Ulimits ?? []).find((u) => u.Name === "RLIMIT_NPROC")
        expect(nproc).toEqual({ Name: "RLIMIT_NPROC", Soft: limits.nproc, Hard: limits.nproc })
        expect(c.State.Running).toBe(true)
      }),
    )

    it.effect(
      "waits for running, a port, a log line and health; a wait that cannot succeed times out by name",
      () =>
        Effect.gen(function* () {
          const pod = yield* SharedPod
          yield* waitForRunning(pod.sidecar, { timeoutMs: 10_000 })
          yield* waitForPort(pod.sidecar, 8080, { timeoutMs: 10_000 })
          yield* waitForLogLine(pod.sidecar, "sidecar listening", { timeoutMs: 10_000 })
          yield* waitForHealthy(pod.sidecar, { timeoutMs: 20_000 })
          const timedOut = yield* Effect.flip(waitForPort(pod.sidecar, 9999, { timeoutMs: 300 }))
          expect(timedOut).toMatchObject({
            _tag: "WaitTimedOut",
            target: pod.sidecar,
            timeoutMs: 300,
          })
          expect(timedOut.message).toContain("TCP port 9999")
          expect(timedOut.message).toMatch(/listening: .*8080/)
        }),
    )
  })
})
