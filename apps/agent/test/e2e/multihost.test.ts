/**
 * The mesh across simulated hosts: three (then four) network namespaces on a bridge, each with its
 * own address, Podman and `beemesh-agent`. Host A runs a client pod, B and C each a replica of the
 * service it calls. Driven only through the agents' HTTP APIs, the podman CLI of each host, TCP
 * probes from inside a host, and tcpdump on the bridge. The tests run in order (one scenario).
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ORDERS_IMAGE, WEB_IMAGE } from "../../demo/images"
import { type SimulatedHost, SimulatedHosts } from "../support/hosts/SimulatedHosts"
import { sweep } from "../support/hosts/Sweeper"
import { waitFor } from "../support/hosts/wait"
import { AGENT_DIR, SIDECAR_IMAGE } from "./support"

const ns = `mh-${randomBytes(3).toString("hex")}`
let cluster: SimulatedHosts
let a: SimulatedHost
let b: SimulatedHost
let c: SimulatedHost

const ordersManifest = (host: SimulatedHost) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: orders, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: orders } }
  template:
    metadata: { labels: { app: orders } }
    spec:
      containers:
        - name: app
          image: ${ORDERS_IMAGE}
          env: [{ name: DEMO_HOST, value: ${host.name} }]
          ports: [{ containerPort: 80 }]
`
const webManifest = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "orders=9001" }
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

interface Call {
  readonly ok: boolean
  /** The host whose replica answered. */
  readonly answeredBy: string | undefined
  readonly ms: number
  readonly output: string
}

/** One request from web's app on `from` to orders, through its sidecar's upstream port. */
const call = async (from: SimulatedHost, query = ""): Promise<Call> => {
  const started = performance.now()
  const result = await from
    .execInApp(
      `bm-${ns}-web-app`,
      "/bin/busybox",
      "timeout",
      "4",
      "/bin/busybox",
      "wget",
      "-q",
      "-O",
      "-",
      `http://127.0.0.1:9001/cgi-bin/orders${query}`,
    )
    .catch((error: Error) => error.message)
  const answeredBy = / on host (h\d+)/.exec(result)?.[1]
  return {
    ok: /open orders/.test(result),
    answeredBy,
    ms: performance.now() - started,
    output: result,
  }
}

/** Calls until every host in `expected` has answered; fails naming who answered so far. */
const callUntilAnsweredBy = (
  from: SimulatedHost,
  expected: ReadonlyArray<string>,
  timeoutMs: number,
  query = "",
) => {
  const seen = new Set<string>()
  const calls: Array<Call> = []
  return waitFor(
    `answers from ${expected.join(" and ")} to calls from ${from.name}`,
    async () => {
      const result = await call(from, query)
      calls.push(result)
      if (result.answeredBy !== undefined) seen.add(result.answeredBy)
      if (expected.every((h) => seen.has(h))) return calls
      throw new Error(
        `answered so far by [${[...seen].join(", ")}]; last: ${result.output.slice(0, 200)}`,
      )
    },
    timeoutMs,
    100,
  )
}

const providers = async (host: SimulatedHost) =>
  ((await host.api("GET", `/v1/services/${ns}/orders`)).json?.providers ?? []) as Array<{
    peerId: string
    multiaddrs: Array<string>
    pod: string
  }>

const hostPortOf = async (host: SimulatedHost) => {
  const status = await host.api("GET", `/v1/workloads/${ns}/orders`)
  const pods = (status.json?.pods ?? []) as Array<{ hostPort: number }>
  return pods[0]!.hostPort
}

beforeAll(async () => {
  await sweep()
  cluster = await SimulatedHosts.create({
    count: 3,
    images: [SIDECAR_IMAGE, ORDERS_IMAGE, WEB_IMAGE],
  })
  ;[a, b, c] = cluster.hosts as [SimulatedHost, SimulatedHost, SimulatedHost]
  await Promise.all([
    deploy(b, ordersManifest(b)),
    deploy(c, ordersManifest(c)),
    deploy(a, webManifest),
  ])
  await waitFor(
    "both orders replicas (on B and C) resolvable from A",
    async () => ((await providers(a)).length === 2 ? true : undefined),
    60_000,
  )
})

afterAll(async () => {
  // Kept for diagnosis: teardown removes the run directory with every log in it.
  await cluster?.collectLogs(join(AGENT_DIR, ".reports/multihost")).catch(() => undefined)
  await cluster?.teardown()
})

describe("three simulated hosts", () => {
  it("an app on A calls a service whose replicas run on B and C, and both answer", async () => {
    const calls = await callUntilAnsweredBy(a, ["h2", "h3"], 60_000)
    const answered = calls.filter((x) => x.ok)
    console.log(
      `cross-host calls (podman exec + wget, A → B/C): ${answered.length} answered, median ${Math.round(
        answered.map((x) => x.ms).sort((p, q) => p - q)[Math.floor(answered.length / 2)] ?? 0,
      )} ms`,
    )
    const addresses = (await providers(a)).flatMap((p) => p.multiaddrs)
    expect(addresses.some((m) => m.startsWith(`/ip4/${b.address}/tcp/`))).toBe(true)
    expect(addresses.some((m) => m.startsWith(`/ip4/${c.address}/tcp/`))).toBe(true)
    // They registered their same-host sockets too; A cannot attribute those (another agent's
    // directory), so it dials their published ports (the capture below sees that TCP).
    expect(addresses.some((m) => m.startsWith("/unix/"))).toBe(true)
  })

  it("carries the call encrypted: a marker in the request never crosses the bridge in plaintext", async () => {
    const marker = `beemesh-marker-${randomBytes(8).toString("hex")}`
    const control = `beemesh-control-${randomBytes(8).toString("hex")}`
    const bPort = await hostPortOf(b)
    const cPort = await hostPortOf(c)
    const capture = await cluster.capture("encryption")
    await callUntilAnsweredBy(a, ["h2", "h3"], 60_000, `?${marker}`)
    // The control: the same kind of bytes sent in plaintext across the bridge must show up.
    expect(
      (await cluster.probe(a, b.address, bPort, { payload: control, timeoutMs: 1_000 })).outcome,
    ).toBe("open")
    const { bytes, summary } = await capture.stop()
    expect(bytes.includes(control)).toBe(true)
    expect(bytes.includes(marker)).toBe(false)
    // The calls did cross the bridge: TCP from A to each provider's published sidecar port.
    expect(summary).toMatch(
      new RegExp(
        `${a.address.replaceAll(".", "\\.")}\\.\\d+ > ${b.address.replaceAll(".", "\\.")}\\.${bPort}: tcp [1-9]`,
      ),
    )
    expect(summary).toMatch(
      new RegExp(
        `${a.address.replaceAll(".", "\\.")}\\.\\d+ > ${c.address.replaceAll(".", "\\.")}\\.${cPort}: tcp [1-9]`,
      ),
    )
  })

  it("publishes a sidecar on its host's address, reachable from another host; app ports are not", async () => {
    const port = await hostPortOf(b)
    // The sidecar's published port answers on B's address, from A...
    expect((await cluster.probe(a, b.address, port)).outcome).toBe("open")
    // ...and only there: not on B's loopback.
    expect((await cluster.probe(b, "127.0.0.1", port)).outcome).toBe("refused")
    // A plain HTTP request to it does not reach the app behind it (libp2p only).
    const plain = await cluster.probe(a, b.address, port, {
      payload: "GET /cgi-bin/orders HTTP/1.0\r\n\r\n",
      timeoutMs: 2_000,
    })
    expect(plain.data).not.toMatch(/open orders/)
    // The app's own port and the agent's API are not reachable from another host.
    expect((await cluster.probe(a, b.address, 80)).outcome).toBe("refused")
    expect((await cluster.probe(a, b.address, 8080)).outcome).toBe("refused")
  })

  it("a partition between A and the providers heals without manual action", async () => {
    await cluster.partition([a], [b, c])
    const cut = await waitFor(
      "calls from A to fail while A is cut off from B and C",
      async () => ((await call(a)).ok ? undefined : true),
      60_000,
    )
    expect(cut).toBe(true)
    const healedAt = Date.now()
    await cluster.heal()
    await callUntilAnsweredBy(a, ["h2", "h3"], 120_000)
    console.log(
      `partition healed: A reached B and C again ${Date.now() - healedAt} ms after healing`,
    )
  })

  it("when host B goes down, A's calls continue on C within a bounded time", async () => {
    const streak: Array<Call> = []
    const downAt = Date.now()
    await cluster.takeDown(b)
    const tookDownMs = Date.now() - downAt
    let failures = 0
    // When each failed call started (after the cut), how long it took and how it ended.
    const failed: Array<string> = []
    let firstOfStreak = 0
    await waitFor(
      "five calls in a row from A answered by C after B went down",
      async () => {
        const result = await call(a)
        if (result.ok && result.answeredBy === "h3") {
          if (streak.length === 0) firstOfStreak = Date.now() - result.ms
          streak.push(result)
        } else {
          failures += 1
          failed.push(
            `${Math.round(Date.now() - result.ms - downAt)} ms: ${Math.round(result.ms)} ms, answered by ${result.answeredBy ?? "nobody"} (${result.output.slice(-160)})`,
          )
          streak.length = 0
          // Seen as the wait's last error if the deadline passes.
          throw new Error(
            `call ${Math.round(Date.now() - downAt)} ms after the cut failed in ${Math.round(result.ms)} ms (answered by ${result.answeredBy ?? "nobody"}): ${result.output.slice(-300)}`,
          )
        }
        return streak.length >= 5 ? true : undefined
      },
      120_000,
      0,
    )
    const failoverMs = firstOfStreak - downAt
    console.log(
      `host loss: B cut off and killed in ${tookDownMs} ms; calls answered by C again ${Math.round(failoverMs)} ms after the cut (${failures} failed calls meanwhile${failed.map((f) => `\n  ${f}`).join("")})`,
    )
    expect(failoverMs).toBeLessThan(60_000)
  })

  it("a fourth host joining later learns the existing services and calls them", async () => {
    const d = await cluster.addHost()
    await waitFor(
      "orders (on C) resolvable from the new host",
      async () =>
        (await providers(d)).some((p) => p.multiaddrs.some((m) => m.includes(`/${c.address}/`)))
          ? true
          : undefined,
      60_000,
    )
    await deploy(d, webManifest)
    await callUntilAnsweredBy(d, ["h3"], 60_000)
  })
})
