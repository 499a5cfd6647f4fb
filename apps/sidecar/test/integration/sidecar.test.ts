/**
 * The sidecar image in real Podman pods (slirp4netns, default options), with a stand-in agent on the
 * host's 127.0.0.1 that the pods reach as host.containers.internal (10.0.2.2). Traffic goes only
 * to 127.0.0.1, inside the pods, and to the slirp4netns host-loopback address.
 *
 * Pod B: sidecar exposing service `web` → B's app (busybox httpd on 127.0.0.1:80).
 * Pod A: sidecar with upstream `web` on 127.0.0.1:9001 and [::1]:9001; A's app calls it.
 */
import { randomBytes } from "node:crypto"
import { UpstreamNames } from "@beemesh/contract"
import {
  allocateHostPort,
  type IsolatedPod,
  makeIsolatedPod,
  PodmanClient,
  type PodSpecInput,
  waitForHealthy,
} from "@beemesh/podman"
import { execInApp } from "@beemesh/podman/testing"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import {
  ensureBusyboxImage,
  ensureSidecarImage,
  SUITE_LABELS,
  testClientLayer,
  uniqueName,
} from "../support/podman"
import { type StandInAgent, startStandInAgent } from "../support/StandInAgent"

const HEALTHCHECK = ["/usr/local/bin/node", "/app/sidecar.mjs", "healthcheck"]
const APP_B =
  "trap 'exit 0' TERM; mkdir -p /tmp/www && echo hello-from-b > /tmp/www/index.html && httpd -f -p 127.0.0.1:80 -h /tmp/www & wait"
const APP_IDLE = "trap 'exit 0' TERM; sleep 3600 & wait"

interface SidecarPod {
  readonly pod: IsolatedPod
  readonly name: string
  readonly token: string
}

interface Fixture {
  readonly agent: StandInAgent
  readonly namespace: string
  readonly a: SidecarPod
  readonly b: SidecarPod
  readonly sidecarImage: string
  readonly appImage: string
}

class Mesh extends Context.Service<Mesh, Fixture>()("test/Mesh") {}

const token = () => randomBytes(16).toString("hex")

const sidecarSpec = (options: {
  name: string
  hostPort: number
  sidecarImage: string
  appImage: string
  appScript: string
  env: Record<string, string>
}): PodSpecInput => ({
  name: options.name,
  labels: SUITE_LABELS,
  hostPort: options.hostPort,
  containers: [
    {
      name: "sidecar",
      role: "sidecar",
      image: options.sidecarImage,
      env: options.env,
      healthcheck: { command: HEALTHCHECK, intervalSeconds: 60 },
    },
    {
      name: "app",
      role: "app",
      image: options.appImage,
      command: ["/bin/sh", "-c", options.appScript],
    },
  ],
  stopTimeoutSeconds: 2,
})

const meshLayer = Layer.effect(
  Mesh,
  Effect.gen(function* () {
    const sidecarImage = yield* ensureSidecarImage
    const appImage = yield* ensureBusyboxImage
    const namespace = uniqueName("ns")
    const a = { name: uniqueName("sc-a"), token: token() }
    const b = { name: uniqueName("sc-b"), token: token() }
    const agent = yield* Effect.acquireRelease(
      Effect.promise(() =>
        startStandInAgent({
          tokens: { [a.name]: a.token, [b.name]: b.token },
          ttlSeconds: 3,
          renewAfterSeconds: 0.5,
          // As the agent does: providers on the host's loopback are handed to pods at the gateway.
          gatewayForPods: "10.0.2.2",
        }),
      ),
      (agent) => Effect.promise(() => agent.close()),
    )
    const make = (
      self: { name: string; token: string },
      workload: string,
      appScript: string,
      env: Record<string, string>,
    ) =>
      Effect.gen(function* () {
        const hostPort = yield* allocateHostPort("127.0.0.1")
        const pod = yield* makeIsolatedPod(
          sidecarSpec({
            name: self.name,
            hostPort,
            sidecarImage,
            appImage,
            appScript,
            env: {
              BEEMESH_NAMESPACE: namespace,
              BEEMESH_WORKLOAD: workload,
              BEEMESH_POD: self.name,
              BEEMESH_POD_TOKEN: self.token,
              BEEMESH_AGENT_URL: `http://host.containers.internal:${agent.port}`,
              // As an agent announces pods on its host: the host's loopback and the published
              // port. Other pods reach it through their host loopback (10.0.2.2), the address
              // the stand-in agent answers them with.
              BEEMESH_ADVERTISE: `/ip4/127.0.0.1/tcp/${hostPort}`,
              ...env,
            },
          }),
          { owner: "sidecar-integration-test" },
        )
        return { pod, ...self }
      })
    const podB = yield* make(b, "web", APP_B, { BEEMESH_SERVICES: "web=80" })
    const podA = yield* make(a, "client", APP_IDLE, { BEEMESH_UPSTREAMS: "web=9001" })
    // Ready means: node listening and registered with the agent (the image's healthcheck command).
    yield* waitForHealthy(podB.pod.sidecar, { timeoutMs: 60_000 })
    yield* waitForHealthy(podA.pod.sidecar, { timeoutMs: 60_000 })
    return { agent, namespace, a: podA, b: podB, sidecarImage, appImage }
  }),
).pipe(Layer.provideMerge(testClientLayer))

/** Runs a command in a pod's app (entered with nsenter: podman exec cannot enter an app). */
const exec = (pod: IsolatedPod, cmd: ReadonlyArray<string>) => execInApp(pod, pod.apps[0]!, cmd)

/** One sample of a Prometheus family, read from the sidecar's /metrics inside its pod. */
const metricsOf = (pod: IsolatedPod) =>
  Effect.gen(function* () {
    const r = yield* exec(pod, ["/bin/wget", "-q", "-O-", "http://127.0.0.1:8081/metrics"])
    expect(r.exitCode).toBe(0)
    return (name: string) => {
      const line = r.stdout.split("\n").find((l) => l.startsWith(`${name} `))
      if (line === undefined) throw new Error(`metric ${name} missing in:\n${r.stdout}`)
      return Number(line.split(" ")[1])
    }
  })

const pollUntil = <A>(what: string, check: () => A | undefined, timeoutMs = 15_000) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = check()
      if (value !== undefined) return value
      if (Date.now() > deadline)
        return yield* Effect.die(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      yield* Effect.sleep(50)
    }
  })

describe("sidecar in real Podman pods", () => {
  layer(meshLayer, { excludeTestServices: true, timeout: "240 seconds" })((it) => {
    it.effect("carries pod A's app to pod B's app over libp2p, and the counters show it", () =>
      Effect.gen(function* () {
        const { a, b } = yield* Mesh
        const before = yield* metricsOf(a.pod)
        const answer = yield* exec(a.pod, [
          "/bin/wget",
          "-q",
          "-O-",
          "http://127.0.0.1:9001/index.html",
        ])
        expect(answer.stderr).toBe("")
        expect(answer.stdout.trim()).toBe("hello-from-b")
        // The upstream port answers on the IPv6 loopback too (apps resolving localhost to ::1).
        const overIpv6 = yield* exec(a.pod, [
          "/bin/wget",
          "-q",
          "-O-",
          "http://[::1]:9001/index.html",
        ])
        expect(overIpv6.stderr).toBe("")
        expect(overIpv6.stdout.trim()).toBe("hello-from-b")
        // And on the upstream's own loopback address, where the agent's host entries put its names.
        const atItsAddress = yield* exec(a.pod, [
          "/bin/wget",
          "-q",
          "-O-",
          `http://${UpstreamNames.addressOf(0)}:9001/index.html`,
        ])
        expect(atItsAddress.stderr).toBe("")
        expect(atItsAddress.stdout.trim()).toBe("hello-from-b")
        const afterA = yield* metricsOf(a.pod)
        const afterB = yield* metricsOf(b.pod)
        expect(afterA('beemesh_sidecar_proxy_streams_total{direction="outbound"}')).toBeGreaterThan(
          before('beemesh_sidecar_proxy_streams_total{direction="outbound"}'),
        )
        expect(
          afterA('beemesh_sidecar_proxy_bytes_total{direction="outbound",flow="received"}'),
        ).toBeGreaterThan(
          before('beemesh_sidecar_proxy_bytes_total{direction="outbound",flow="received"}'),
        )
        expect(
          afterB('beemesh_sidecar_proxy_streams_total{direction="inbound"}'),
        ).toBeGreaterThanOrEqual(1)
        expect(
          afterB('beemesh_sidecar_proxy_bytes_total{direction="inbound",flow="sent"}'),
        ).toBeGreaterThan(0)
        expect(afterA("beemesh_sidecar_registered")).toBe(1)
      }),
    )

    it.effect(
      "B's app is reachable only through its sidecar: one published port, the sidecar's 8080",
      () =>
        Effect.gen(function* () {
          const { b } = yield* Mesh
          const client = yield* PodmanClient
          // The pod's holder container owns its network namespace and the published port.
          const holder = yield* client.containers.inspect(b.pod.holder)
          expect(holder.HostConfig.PortBindings).toEqual({
            "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: String(b.pod.hostPort) }],
          })
          const app = yield* client.containers.inspect(b.pod.apps[0]!)
          expect(app.HostConfig.PortBindings ?? {}).toEqual({})
          const sidecar = yield* client.containers.inspect(b.pod.sidecar)
          expect(sidecar.Config.User).toBe("1337:1337")
        }),
    )

    it.effect("registers both pods with the agent and renews", () =>
      Effect.gen(function* () {
        const { agent, a, b, namespace } = yield* Mesh
        const registered = agent.registrations.get(b.name)
        expect(registered).toMatchObject({
          namespace,
          workload: "web",
          pod: b.name,
          multiaddrs: [`/ip4/127.0.0.1/tcp/${b.pod.hostPort}`],
          services: [{ name: "web", port: 80 }],
        })
        expect(registered?.peerId).toMatch(/^12D3KooW/)
        expect(agent.registrations.get(a.name)?.services).toEqual([])
        expect(agent.registrations.get(a.name)?.peerId).not.toBe(registered?.peerId)
        const renewals = (pod: string) =>
          agent.events.filter((e) => e.pod === pod && e.kind === "renew").length
        yield* pollUntil("renewals of both pods", () =>
          renewals(a.name) >= 2 && renewals(b.name) >= 2 ? true : undefined,
        )
        expect(
          agent.events
            .filter((e) => e.kind === "register")
            .map((e) => e.pod)
            .sort(),
        ).toEqual([a.name, b.name].sort())
      }),
    )

    it.effect("refuses a bad environment with a clear error and exit code 2", () =>
      Effect.gen(function* () {
        const { sidecarImage, appImage } = yield* Mesh
        const client = yield* PodmanClient
        const pod = yield* makeIsolatedPod(
          sidecarSpec({
            name: uniqueName("sc-bad"),
            hostPort: yield* allocateHostPort("127.0.0.1"),
            sidecarImage,
            appImage,
            appScript: APP_IDLE,
            env: {
              BEEMESH_NAMESPACE: "default",
              BEEMESH_WORKLOAD: "web",
              BEEMESH_POD: "bad",
              BEEMESH_POD_TOKEN: token(),
              BEEMESH_ADVERTISE: "/ip4/10.0.2.2/tcp/1",
              BEEMESH_SERVICES: "web=eighty",
            },
          }),
          { owner: "sidecar-integration-test" },
        )
        let state = yield* client.containers.inspect(pod.sidecar)
        const deadline = Date.now() + 20_000
        while (state.State.Status !== "exited" && Date.now() < deadline) {
          yield* Effect.sleep(100)
          state = yield* client.containers.inspect(pod.sidecar)
        }
        expect(state.State.Status).toBe("exited")
        expect(state.State.ExitCode).toBe(2)
        const logs = yield* client.containers.logs(pod.sidecar)
        expect(logs.stderr + logs.stdout).toContain('BEEMESH_SERVICES="web=eighty"')
        expect(logs.stderr + logs.stdout).toContain("is not a port number")
      }).pipe(Effect.scoped),
    )

    // Last: it stops pod A's sidecar.
    it.effect("on SIGTERM unregisters and exits within 2 s", () =>
      Effect.gen(function* () {
        const { agent, a } = yield* Mesh
        const client = yield* PodmanClient
        const started = Date.now()
        // podman stop sends SIGTERM and would SIGKILL after 10 s; the measured time includes Podman's own work.
        yield* client.containers.stop(a.pod.sidecar, { timeoutSeconds: 10 })
        const elapsed = Date.now() - started
        const state = yield* client.containers.inspect(a.pod.sidecar)
        expect(state.State.Status).toBe("exited")
        expect(state.State.ExitCode).toBe(0)
        expect(elapsed).toBeLessThan(2000)
        const unregistered = agent.events.find((e) => e.pod === a.name && e.kind === "unregister")
        expect(unregistered).toBeDefined()
        expect(unregistered!.at - started).toBeLessThan(2000)
        expect(agent.registrations.has(a.name)).toBe(false)
      }),
    )
  })
})
