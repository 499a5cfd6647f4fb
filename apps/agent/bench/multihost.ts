/**
 * Cross-host against same-host through the mesh, and failover after host loss, on simulated hosts
 * (root; one run, rounds interleaved). Host A runs a client pod and `echo-local`; host B runs
 * `echo-remote` and a replica of `echo-ha`. The client's app measures, through its sidecar's
 * upstream ports (app → sidecar → libp2p → sidecar → app):
 *   - rtt: 100-byte echo round trips on one open connection;
 *   - connect: a new connection per request (resolve, stream open, handshake, one answer);
 *   - upload: bulk bytes one way until the server confirms the count.
 * Failover: a fresh host D runs a second `echo-ha` replica; while the client calls echo-ha, D is
 * cut off and killed (SimulatedHosts.takeDown); failover time is from the cut to the first of five
 * calls in a row answered by B, and the end of the last call that failed or took over a second
 * (within the 40 s window) is reported beside it.
 * Prints a table and writes bench-results/multihost.json.
 *   pnpm --filter @beemesh/agent bench:multihost [-- --rounds 5 --failovers 3]
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { SIDECAR_IMAGE } from "../test/e2e/support"
import { type SimulatedHost, SimulatedHosts } from "../test/support/hosts/SimulatedHosts"
import { sweep } from "../test/support/hosts/Sweeper"
import { waitFor } from "../test/support/hosts/wait"
import { BENCH_IMAGE, buildBenchImage, removeBenchImage } from "./multihost/image"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    rounds: { type: "string", default: "5" },
    failovers: { type: "string", default: "3" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/agent bench:multihost [-- --rounds 5 --failovers 3]",
      "  --rounds N      interleaved rounds of rtt, connect and upload; a whole number >= 2 (default 5)",
      "  --failovers N   failovers after host loss; a whole number >= 0 (default 3)",
      "Needs root (simulated hosts). Prints a table and writes bench-results/multihost.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const ROUNDS = Number(values.rounds)
const FAILOVERS = Number(values.failovers)
if (!Number.isInteger(ROUNDS) || ROUNDS < 2 || !Number.isInteger(FAILOVERS) || FAILOVERS < 0)
  throw new Error("--rounds must be a whole number ≥ 2 and --failovers a whole number ≥ 0")
const RTT_SAMPLES = 200
const CONNECT_SAMPLES = 20
const UPLOAD_MIB = 32
const SERVER_PORT = 7000
const UPSTREAMS = { "echo-local": 9001, "echo-remote": 9002, "echo-ha": 9003 } as const
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/multihost.json")
const ns = `bench-mh-${process.pid}`
const log = (line: string) => console.error(`bench: ${line}`)

const server = (name: string, host: SimulatedHost) => `
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
          image: ${BENCH_IMAGE}
          args: ["serve", "${SERVER_PORT}"]
          env: [{ name: BENCH_HOST, value: ${host.name} }]
          ports: [{ containerPort: ${SERVER_PORT} }]
`
const client = `
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: ${ns}
  annotations:
    beemesh.io/upstreams: "${Object.entries(UPSTREAMS)
      .map(([service, port]) => `${service}=${port}`)
      .join(",")}"
spec:
  containers:
    - name: app
      image: ${BENCH_IMAGE}
      args: ["idle"]
`

const deploy = async (host: SimulatedHost, manifest: string) => {
  const response = await host.api("POST", "/v1/workloads", manifest)
  if (response.status !== 201)
    throw new Error(`deploying on ${host.name}: ${response.status} ${response.text}`)
}

/** Runs one echo.mjs client mode in A's client app and returns its JSON line. */
const measure = async <T>(a: SimulatedHost, ...args: ReadonlyArray<string | number>) => {
  const out = await a.execInApp(
    `bm-${ns}-client-app`,
    "/usr/local/bin/node",
    "/bench/echo.mjs",
    ...args.map(String),
  )
  return JSON.parse(out.split("\n").at(-1)!) as T
}

interface Hello {
  readonly at: number
  readonly ms: number
  readonly host: string | null
  readonly error?: string
}

/** The addresses of every provider of `service` that A resolves, one string per provider. */
const providersSeen = async (a: SimulatedHost, service: string) => {
  const found = (await a.api("GET", `/v1/services/${ns}/${service}`)).json?.providers
  return Array.isArray(found)
    ? (found as Array<{ multiaddrs: Array<string> }>).map((p) => p.multiaddrs.join(" "))
    : []
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
const summary = (samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((x, y) => x - y)
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
  }
}

type Target = "same-host" | "cross-host"
const TARGET_PORT: Record<Target, number> = {
  "same-host": UPSTREAMS["echo-local"],
  "cross-host": UPSTREAMS["echo-remote"],
}

const main = async () => {
  await sweep()
  log(`building ${BENCH_IMAGE}`)
  buildBenchImage(SIDECAR_IMAGE)
  log("starting hosts A and B")
  const cluster = await SimulatedHosts.create({ count: 2, images: [SIDECAR_IMAGE, BENCH_IMAGE] })
  const stop = () => {
    cluster.teardown().finally(() => process.exit(130))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
  try {
    const [a, b] = cluster.hosts as [SimulatedHost, SimulatedHost]
    await Promise.all([
      deploy(a, server("echo-local", a)),
      deploy(b, server("echo-remote", b)),
      deploy(b, server("echo-ha", b)),
      deploy(a, client),
    ])
    for (const [service, port] of Object.entries(UPSTREAMS)) {
      await waitFor(
        `${service} answering A's client`,
        async () => {
          const result = await measure<{ calls: Array<Hello> }>(a, "watch", port, 1, 3_000, 0)
          return result.calls.some((c) => c.host !== null) ? true : undefined
        },
        90_000,
        500,
      )
    }

    log(`latency and throughput: ${ROUNDS} interleaved rounds`)
    const rtt: Record<Target, Array<number>> = { "same-host": [], "cross-host": [] }
    const connect: Record<Target, Array<number>> = { "same-host": [], "cross-host": [] }
    const upload: Record<Target, Array<number>> = { "same-host": [], "cross-host": [] }
    for (const target of ["same-host", "cross-host"] as const) {
      await measure(a, "rtt", TARGET_PORT[target], 20, 100) // warm-up: connections and caches
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order: ReadonlyArray<Target> =
        round % 2 === 0 ? ["same-host", "cross-host"] : ["cross-host", "same-host"]
      for (const target of order) {
        const port = TARGET_PORT[target]
        rtt[target].push(
          ...(await measure<{ samplesMs: Array<number> }>(a, "rtt", port, RTT_SAMPLES, 100))
            .samplesMs,
        )
        const c = await measure<{ samplesMs: Array<number>; failures: Array<string> }>(
          a,
          "connect",
          port,
          CONNECT_SAMPLES,
        )
        if (c.failures.length > 0)
          throw new Error(`${target} connect failed: ${c.failures.join("; ")}`)
        connect[target].push(...c.samplesMs)
        const u = await measure<{ ms: number; bytes: number; expected: number }>(
          a,
          "upload",
          port,
          UPLOAD_MIB,
        )
        if (u.bytes !== u.expected)
          throw new Error(`${target} upload: the server counted ${u.bytes} of ${u.expected} bytes`)
        upload[target].push(UPLOAD_MIB / (u.ms / 1000))
      }
      log(`  round ${round + 1}/${ROUNDS} done`)
    }

    const rows = (["same-host", "cross-host"] as const).map((target) => ({
      target,
      rttMs: summary(rtt[target]),
      connectMs: summary(connect[target]),
      uploadMiBps: summary(upload[target]),
    }))
    const f = (x: number, digits = 2) => x.toFixed(digits).padStart(8)
    console.log(
      "\nthrough the mesh from a pod on host A (app → sidecar → libp2p → sidecar → app), interleaved rounds",
    )
    console.log(
      "target       rtt p50/p99 ms (n)         connect p50/p99 ms (n)      upload MiB/s median [min–max] (n)",
    )
    for (const row of rows) {
      console.log(
        `${row.target.padEnd(12)} ${f(row.rttMs.p50)} / ${f(row.rttMs.p99)} (${row.rttMs.n})   ${f(row.connectMs.p50)} / ${f(row.connectMs.p99)} (${row.connectMs.n})   ${f(row.uploadMiBps.p50, 1)} [${row.uploadMiBps.min.toFixed(1)}–${row.uploadMiBps.max.toFixed(1)}] (${row.uploadMiBps.n})`,
      )
    }
    const failovers: Array<{
      readonly failoverMs: number
      readonly disruptedUntilMs: number
      readonly failedCalls: number
      readonly slowestCallMs: number
      readonly callsAfterCut: number
      readonly lostHostsStillListed: number
      readonly disrupted: ReadonlyArray<unknown>
    }> = []
    for (let i = 0; i < FAILOVERS; i++) {
      const d = await cluster.addHost()
      log(`failover ${i + 1}/${FAILOVERS}: ${d.name} joins with a second echo-ha replica`)
      await deploy(d, server("echo-ha", d))
      // Records of hosts lost in earlier samples live until they expire (60 s): wait for that,
      // but measure anyway if they linger (and report how many were still listed).
      const has = (seen: ReadonlyArray<string>, host: SimulatedHost) =>
        seen.some((m) => m.includes(`/${host.address}/`))
      const seen = await waitFor(
        `echo-ha resolvable from A on ${b.name} and ${d.name}`,
        async () => {
          const now = await providersSeen(a, "echo-ha")
          return has(now, b) && has(now, d) ? now : undefined
        },
        90_000,
        1_000,
      )
      const lingering = await waitFor(
        "records of earlier lost hosts to expire",
        async () => {
          const now = await providersSeen(a, "echo-ha")
          return now.length <= 2 ? 0 : undefined
        },
        75_000,
        1_000,
      ).catch(() => seen.length - 2)
      await waitFor(
        `calls from A answered by both ${b.name} and ${d.name}`,
        async () => {
          const { calls } = await measure<{ calls: Array<Hello> }>(
            a,
            "watch",
            UPSTREAMS["echo-ha"],
            2_000,
            3_000,
            20,
          )
          const hosts = new Set(calls.map((c) => c.host))
          return hosts.has(b.name) && hosts.has(d.name) ? true : undefined
        },
        90_000,
        500,
      )
      // The client calls for 40 s (each call bounded at 5 s); D is cut 3 s in.
      const watching = measure<{ calls: Array<Hello> }>(
        a,
        "watch",
        UPSTREAMS["echo-ha"],
        40_000,
        5_000,
        20,
      )
      await new Promise((resolve) => setTimeout(resolve, 3_000))
      const cutAt = Date.now()
      await cluster.takeDown(d)
      const { calls } = await watching
      const after = calls.filter((c) => c.at + c.ms > cutAt)
      const bad = after.filter((c) => c.host === null || c.ms > 1_000)
      const wrong = after.filter((c) => c.host !== null && c.host !== b.name && c.at > cutAt)
      if (wrong.length > 0)
        throw new Error(`calls started after the cut answered by ${wrong[0]!.host}, not ${b.name}`)
      // Failover as the e2e test counts it: from the cut to the first of five calls in a row
      // answered by the survivor; the dead replica's record still lists it until it expires, so
      // calls that try it later still stall (counted in disruptedUntilMs and failedCalls).
      const streakStart = after.findIndex(
        (_, i) =>
          after.length >= i + 5 &&
          after.slice(i, i + 5).every((c) => c.host === b.name && c.ms <= 1_000),
      )
      if (streakStart < 0)
        throw new Error(`echo-ha never answered five calls in a row from ${b.name} after the cut`)
      const sample = {
        failoverMs: Math.max(0, Math.round(after[streakStart]!.at - cutAt)),
        disruptedUntilMs: Math.round(
          bad.length === 0 ? 0 : Math.max(...bad.map((c) => c.at + c.ms)) - cutAt,
        ),
        failedCalls: after.filter((c) => c.host === null).length,
        slowestCallMs: Math.max(...after.map((c) => c.ms)),
        callsAfterCut: after.length,
        lostHostsStillListed: lingering,
        // Calls that failed or were slow: when (ms after the cut), how long, who answered.
        disrupted: bad.map((c) => ({
          atMs: Math.round(c.at - cutAt),
          ms: Math.round(c.ms),
          host: c.host,
          ...(c.error === undefined ? {} : { error: c.error }),
        })),
      }
      log(
        `  failover ${sample.failoverMs} ms; last failed or slow call ended ${sample.disruptedUntilMs} ms after the cut (${sample.failedCalls} failed, slowest ${Math.round(sample.slowestCallMs)} ms)`,
      )
      failovers.push(sample)
    }

    if (failovers.length > 0) {
      const times = failovers.map((s) => s.failoverMs)
      console.log(
        `failover after host loss (${failovers.length} samples; max, not p99): median ${Math.round(summary(times).p50)} ms, max ${Math.round(summary(times).max)} ms (cut → five calls in a row answered by the survivor); last failed or slow call after the cut per sample: ${failovers.map((s) => `${s.disruptedUntilMs} ms`).join(", ")} (40 s window); failed calls per sample ${failovers.map((s) => s.failedCalls).join(", ")} (each call bounded at 5 s)`,
      )
    }
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(
      OUT,
      JSON.stringify(
        {
          when: new Date().toISOString(),
          setup: {
            hosts:
              "simulated hosts (network namespaces on a bridge), each with its own Podman and agent",
            rounds: ROUNDS,
            rttSamplesPerRound: RTT_SAMPLES,
            rttBytes: 100,
            connectSamplesPerRound: CONNECT_SAMPLES,
            uploadMiB: UPLOAD_MIB,
          },
          results: rows,
          failovers,
        },
        null,
        2,
      ),
    )
    console.log(`written ${OUT}`)
  } finally {
    await cluster.teardown()
    removeBenchImage()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error)
  process.exit(1)
})
