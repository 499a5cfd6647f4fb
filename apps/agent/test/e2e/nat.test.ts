/**
 * A host behind a NAT in the mesh: hosts A and B on the bridge, host N on a private subnet behind
 * a NAT router (masquerade, nothing gets in). N's agent runs with `--relay` B, so it and its
 * sidecars hold slots at B's relay and register `<B>/p2p-circuit` addresses. An app on A calls a
 * service whose only replica is on N (through B's relay), an app on N calls a service on A (a
 * direct connection out through the NAT), the relayed call stays encrypted on the bridge, and the
 * DCUtR hole punch that the relayed connection starts is counted and its outcome reported.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import { remotePodman } from "../support/hosts/HostPodman"
import { type SimulatedHost, SimulatedHosts } from "../support/hosts/SimulatedHosts"
import { sweep } from "../support/hosts/Sweeper"
import { waitFor } from "../support/hosts/wait"
import { AGENT_DIR, SIDECAR_IMAGE } from "./support"

const ns = `nat-${randomBytes(3).toString("hex")}`
let cluster: SimulatedHosts
let a: SimulatedHost
let b: SimulatedHost
let n: SimulatedHost

/** A service named `name` served by the demo's orders app, saying which host answered. */
const serviceManifest = (name: string, host: SimulatedHost) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          env: [{ name: DEMO_HOST, value: ${host.name} }]
          ports: [{ containerPort: 80 }]
`

/** A client pod `name` whose app reaches `service` at 127.0.0.1:9001 through its sidecar. */
const clientManifest = (name: string, service: string) => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "${service}=9001" }
spec:
  containers:
    - name: app
      image: ${WEB_IMAGE}
      env: [{ name: WEB_INTERVAL, value: "30" }]
`

const deploy = async (host: SimulatedHost, manifest: string) => {
  const response = await host.api("POST", "/v1/workloads", manifest)
  expect([host.name, response.status, response.text]).toEqual([host.name, 201, expect.any(String)])
}

/** Runs busybox in the app container of `pod` on `host`; resolves to its output or the error. */
const inApp = (host: SimulatedHost, pod: string, ...args: ReadonlyArray<string>) =>
  host
    .execInApp(`bm-${ns}-${pod}-app`, "/bin/busybox", "timeout", "4", "/bin/busybox", ...args)
    .catch((error: Error) => error.message)

/** One call from the client pod's app through its upstream port; the host that answered. */
const call = async (from: SimulatedHost, pod: string, query = "") => {
  const output = await inApp(
    from,
    pod,
    "wget",
    "-q",
    "-O",
    "-",
    `http://127.0.0.1:9001/cgi-bin/orders${query}`,
  )
  return { answeredBy: / on host (h\d+)/.exec(output)?.[1], output }
}

const callUntilAnsweredBy = (
  from: SimulatedHost,
  pod: string,
  expected: string,
  timeoutMs: number,
  query = "",
) =>
  waitFor(
    `an answer from ${expected} to a call from ${pod} on ${from.name}`,
    async () => {
      const result = await call(from, pod, query)
      if (result.answeredBy === expected) return result
      throw new Error(`last call: ${result.output.slice(0, 300)}`)
    },
    timeoutMs,
    200,
  )

const providers = async (host: SimulatedHost, service: string) =>
  ((await host.api("GET", `/v1/services/${ns}/${service}`)).json?.providers ?? []) as Array<{
    peerId: string
    multiaddrs: Array<string>
  }>

/** The sidecar's Prometheus counters, read from inside its pod (the health port is pod-local). */
const sidecarMetrics = (host: SimulatedHost, pod: string) =>
  inApp(host, pod, "wget", "-q", "-O", "-", "http://127.0.0.1:8081/metrics")

const holePunch = (metrics: string, outcome: string) =>
  Number(
    new RegExp(`beemesh_sidecar_hole_punch_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
      metrics,
    )?.[1] ?? Number.NaN,
  )

const escaped = (address: string) => address.replaceAll(".", "\\.")

beforeAll(async () => {
  await sweep()
  cluster = await SimulatedHosts.create({
    count: 2,
    images: [SIDECAR_IMAGE, ORDERS_IMAGE, WEB_IMAGE],
  })
  ;[a, b] = cluster.hosts as [SimulatedHost, SimulatedHost]
  n = await cluster.addHost({ behindNat: { relays: [b] } })
  await Promise.all([
    deploy(n, serviceManifest("orders", n)),
    deploy(a, serviceManifest("stock", a)),
    deploy(a, clientManifest("web", "orders")),
    deploy(n, clientManifest("shop", "stock")),
  ])
})

afterAll(async () => {
  // Kept for diagnosis: teardown removes the run directory with every log in it.
  await cluster?.collectLogs(join(AGENT_DIR, ".reports/nat")).catch(() => undefined)
  await cluster?.teardown()
})

describe("a host behind a NAT", () => {
  it("takes no inbound connection: its own address is not routable and the router forwards nothing", async () => {
    expect(n.address.startsWith("10.78.0.")).toBe(true)
    expect(n.natAddress).toBeDefined()
    expect((await cluster.probe(a, n.address, 4001, { timeoutMs: 1_000 })).outcome).not.toBe("open")
    expect((await cluster.probe(a, n.natAddress!, 4001, { timeoutMs: 1_000 })).outcome).not.toBe(
      "open",
    )
    // Out through the NAT is fine: N reaches A's agent, seen as coming from the router.
    expect((await cluster.probe(n, a.address, 4001)).outcome).toBe("open")
  })

  it("registers its sidecar at B's relay: the provider of orders has a /p2p-circuit address through B", async () => {
    const circuit = await waitFor(
      "a relayed address of orders (on N), resolvable from A",
      async () =>
        (await providers(a, "orders"))
          .flatMap((p) => p.multiaddrs)
          .find((m) => m.startsWith(`/ip4/${b.address}/tcp/4001/p2p/${b.peerId}/p2p-circuit/p2p/`)),
      90_000,
    )
    expect(circuit).toMatch(/\/p2p-circuit\/p2p\/12D3KooW\w+$/)
  })

  it("serves: an app on A calls orders, whose only replica runs on N, through B's relay", async () => {
    const answer = await callUntilAnsweredBy(a, "web", "h3", 90_000)
    expect(answer.output).toMatch(/open orders/)
  })

  it("calls: an app on N calls stock, which runs on A, out through the NAT", async () => {
    const answer = await callUntilAnsweredBy(n, "shop", "h1", 90_000)
    expect(answer.output).toMatch(/open orders/)
  })

  it("keeps the relayed call encrypted: its marker never crosses the bridge in plaintext, on either leg", async () => {
    const marker = `beemesh-marker-${randomBytes(8).toString("hex")}`
    const control = `beemesh-control-${randomBytes(8).toString("hex")}`
    const capture = await cluster.capture("nat-encryption")
    await callUntilAnsweredBy(a, "web", "h3", 30_000, `?${marker}`)
    // The control: plaintext sent across the bridge (from behind the NAT) does show up.
    expect(
      (await cluster.probe(n, b.address, 4001, { payload: control, timeoutMs: 1_000 })).outcome,
    ).toBe("open")
    const { bytes, summary } = await capture.stop()
    expect(bytes.includes(control)).toBe(true)
    expect(bytes.includes(marker)).toBe(false)
    // Both legs of the relay crossed the bridge: A to B's relay, and the NAT router (N's
    // sidecar, masqueraded) with B's relay.
    expect(summary).toMatch(
      new RegExp(`${escaped(a.address)}\\.\\d+ > ${escaped(b.address)}\\.4001: tcp [1-9]`),
    )
    expect(summary).toMatch(
      new RegExp(`${escaped(b.address)}\\.4001 > ${escaped(n.natAddress!)}\\.\\d+: tcp [1-9]`),
    )
  })

  it("attempts a DCUtR hole punch on the relayed connection and reports the outcome", async () => {
    const outcome = await waitFor(
      "a hole punch outcome in the sidecar of orders on N",
      async () => {
        const metrics = await sidecarMetrics(n, "orders-0")
        const attempted = holePunch(metrics, "attempted")
        const succeeded = holePunch(metrics, "succeeded")
        const failed = holePunch(metrics, "failed")
        if (!(attempted >= 1)) throw new Error(`no attempt counted yet: ${metrics.slice(0, 300)}`)
        return succeeded + failed >= 1 ? { attempted, succeeded, failed } : undefined
      },
      60_000,
      500,
    )
    const caller = await sidecarMetrics(a, "web")
    console.log(
      `DCUtR: orders' sidecar on N ${JSON.stringify(outcome)}; web's sidecar on A attempted=${holePunch(caller, "attempted")} succeeded=${holePunch(caller, "succeeded")} failed=${holePunch(caller, "failed")}`,
    )
    expect(holePunch(caller, "attempted")).toBeGreaterThanOrEqual(1)
    // Every address here is private (10.77/10.78): js-libp2p's DCUtR dials only public ones,
    // so the punch fails and the relayed connection stays (see the hosts README).
    expect(outcome.failed).toBeGreaterThanOrEqual(1)
    // The reason is logged by both sidecars, in DCUtR's words.
    const logs = await Promise.all(
      [[n, `bm-${ns}-orders-0-sidecar`] as const, [a, `bm-${ns}-web-sidecar`] as const].map(
        async ([host, container]) => {
          const result = await remotePodman(host.podmanPaths, ["logs", container], 10_000)
          return result.stdout + result.stderr
        },
      ),
    )
    const reasons = logs.flatMap((log) =>
      log.split("\n").filter((line) => /hole punch to 12D3KooW\w+ failed/.test(line)),
    )
    console.log(`DCUtR outcome as logged:\n  ${reasons.join("\n  ")}`)
    expect(reasons.join("\n")).toMatch(/traffic stays on the relay: .*no dialable multiaddrs/)
    // And the service keeps answering through the relay.
    expect((await call(a, "web")).answeredBy).toBe("h3")
  })
})
