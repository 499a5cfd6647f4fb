/**
 * Deploy latency and the agent's memory, side by side with plain Podman in one run.
 *
 * Deploy → answering. On each side a client container (bench/deploy/poller.ts) is already running
 * and asking for orders every 20 ms when the clock starts; the figure is the conmon stamp of the
 * first answer in its log (and, for N replicas, of the answer that completes the set of N distinct
 * replicas) minus the start:
 *   beemesh: POST /v1/workloads of an `orders` Deployment → its answer through the client pod's
 *            sidecar upstream (127.0.0.1:9001) and the orders pod's sidecar;
 *   plain:   `podman run -d -p 127.0.0.1:<port>:80` of the same orders image with the same
 *            slirp4netns options (N at once for N replicas) → its answer at 10.0.2.2:<port> to a
 *            client container on the same slirp4netns options, polling the N ports in turn.
 * Rounds interleaved (the side that goes first alternates), each round with 1 and with N replicas;
 * p50 and p99 (nearest rank; with 10 rounds the p99 is the maximum).
 *
 * Memory. The agent's RSS, PSS and private memory (smaps_rollup) and V8 heap (a diagnostic report)
 * idle and with 20 pods (a 20-replica Deployment, all ready), each 15 s after the agent settled
 * (its start; the replicas ready), next to an idle `node` process.
 *
 *   pnpm --filter @beemesh/agent bench:deploy [-- --rounds 10 --replicas 10 --pods 20]
 *     [--warm-pods N] [--bundle <another agent.mjs> --node-options="<its Node options>"]
 * With --warm-pods N the agent keeps N pods made ahead of need (its --warm-pods), and each beemesh
 * deploy starts once the pool is full again (the poller's pod may have claimed one).
 * Prints a table and writes bench-results/deploy.json. Root, under the Podman lock.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { buildDemoImages, ORDERS_IMAGE } from "../demo/images"
import {
  AGENT_BUNDLE,
  type AgentProcess,
  api,
  eventually,
  freePort,
  podman,
  requirePrerequisites,
  run,
  runAsync,
  startAgent,
} from "../test/e2e/support"
import { awaitAnswers, hasStarted, logPathOf, podmanPodOf } from "./deploy/answers"
import { heapOf, memoryOf, reportFlags } from "./deploy/memory"
import { buildPollerImage, POLLER_IMAGE, POLLER_STARTED } from "./deploy/poller"
import { agentNodeOptions } from "./nodeOptions"
import { PLAIN_NETWORK, plainOrdersArgs } from "./plainOrders"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    rounds: { type: "string", default: "10" },
    replicas: { type: "string", default: "10" },
    pods: { type: "string", default: "20" },
    // Another build of the agent and its Node options: how a before/after comparison runs.
    bundle: { type: "string" },
    "node-options": { type: "string" },
    // Pods made ahead of need (the agent's --warm-pods); each round starts with the pool full.
    "warm-pods": { type: "string", default: "0" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    'pnpm --filter @beemesh/agent bench:deploy [-- --rounds 10 --replicas 10 --pods 20 --warm-pods 0 --bundle <another agent.mjs> --node-options="<its Node options>"]',
  )
  process.exit(0)
}
const ROUNDS = Number(args.rounds)
const REPLICAS = Number(args.replicas)
/**
 * Memory is read this long after the agent settled: what it holds once a burst is over. Read 5 s
 * after, it held 4–6 MiB more, idle and with 20 pods alike, which V8's memory reducer (a full
 * collection once the isolate goes quiet after allocating) gave back within the next 10 s.
 */
const SETTLE_MS = 15_000
const PODS = Number(args.pods)
const WARM = Number(args["warm-pods"])
const ns = `bench-${process.pid}`
const LABEL = `io.beemesh.test.deploy=${process.pid}`
const ORDERS_PATH = "/cgi-bin/orders"
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/deploy.json")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Nearest-rank percentile. */
const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!
}

interface Sample {
  /** ms from the start to the first answer, and to the answer that completed the set. */
  readonly first: number
  readonly all: number
}

const ordersManifest = (name: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: ${replicas}
  template:
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`
const pollerManifest = (name: string, service: string) => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "${service}=9001" }
spec:
  containers:
    - name: app
      image: ${POLLER_IMAGE}
      env: [{ name: POLL_URLS, value: "http://127.0.0.1:9001${ORDERS_PATH}" }]
`

/** Waits for the poller's loop to run, then a little longer so that it is mid-stride. */
const pollerRunning = async (container: string) => {
  const logPath = logPathOf(container)
  await eventually(`${container} to start polling`, () =>
    hasStarted(logPath, POLLER_STARTED) ? true : undefined,
  )
  await sleep(300)
  return logPath
}

const plainRound = async (
  round: number,
  replicas: number,
  quiet: () => Promise<void>,
): Promise<Sample> => {
  // Distinct: two calls can be given the same free port (a run failed so: the second container's
  // name, made from its port, was taken by the first).
  const free = new Set<number>()
  while (free.size < replicas) free.add(await freePort())
  const ports = [...free]
  const client = `bm-bench-poll-${process.pid}-${round}-${replicas}`
  const servers = ports.map((port) => `bm-bench-bare-${process.pid}-${port}`)
  try {
    podman(
      "run",
      "-d",
      "--name",
      client,
      "--label",
      "io.beemesh.test=1",
      "--label",
      LABEL,
      "--network",
      PLAIN_NETWORK,
      "-e",
      `POLL_URLS=${ports.map((port) => `http://10.0.2.2:${port}${ORDERS_PATH}`).join(" ")}`,
      POLLER_IMAGE,
    )
    const logPath = await pollerRunning(client)
    // The same quiet machine as the beemesh side: the agent's pool is not being refilled.
    await quiet()
    const started = Date.now()
    const runs = await Promise.all(
      ports.map((port, i) =>
        runAsync(
          "podman",
          plainOrdersArgs({ name: servers[i]!, port, labels: ["io.beemesh.test=1", LABEL] }),
        ),
      ),
    )
    const failed = runs.find((r) => r.status !== 0)
    if (failed !== undefined) throw new Error(`podman run failed: ${failed.stderr}`)
    const answered = await awaitAnswers(logPath, started, replicas)
    return { first: answered.first - started, all: answered.all - started }
  } finally {
    run("podman", ["rm", "-f", "-t", "0", client, ...servers])
  }
}

const workloadReady = async (agent: AgentProcess, name: string, replicas: number) => {
  const listed = await api(agent, "GET", "/v1/workloads")
  const workloads = (listed.json?.workloads ?? []) as Array<{
    namespace: string
    name: string
    ready: number
  }>
  const workload = workloads.find((w) => w.namespace === ns && w.name === name)
  return workload !== undefined && workload.ready >= replicas ? true : undefined
}

/** Until the agent's pool holds WARM unclaimed standby pods whose sidecars run. */
const poolFull = async (agent: AgentProcess, peerId: string) => {
  if (WARM === 0) return
  await eventually(`${WARM} standby pods ready`, async () => {
    const listed = await api(agent, "GET", "/v1/workloads")
    const serving = new Set(
      ((listed.json?.workloads ?? []) as Array<{ pods: Array<{ podmanPod?: string }> }>).flatMap(
        (w) => w.pods.flatMap((p) => (p.podmanPod === undefined ? [] : [p.podmanPod])),
      ),
    )
    const running = podman(
      "ps",
      "--pod",
      "--filter",
      `label=io.beemesh.owner=${peerId}`,
      "--filter",
      "label=io.beemesh.role=sidecar",
      "--format",
      "{{.PodName}}",
    )
      .split("\n")
      .filter((pod) => pod.startsWith("bm-standby-") && !serving.has(pod))
    return running.length >= WARM ? true : undefined
  })
  // The last one's sidecar has loaded and asks for its claim.
  await sleep(500)
}

const remove = async (agent: AgentProcess, name: string) => {
  const removed = await api(agent, "DELETE", `/v1/workloads/${ns}/${name}`)
  if (removed.status >= 300 && removed.status !== 404)
    throw new Error(`DELETE ${name} answered ${removed.status}: ${JSON.stringify(removed.json)}`)
}

const meshRound = async (
  agent: AgentProcess,
  peerId: string,
  round: number,
  replicas: number,
): Promise<Sample & { readonly postMs: number }> => {
  const service = `orders-${round}-${replicas}`
  const poller = `poll-${round}-${replicas}`
  try {
    const client = await api(agent, "POST", "/v1/workloads", pollerManifest(poller, service))
    if (client.status !== 201) throw new Error(`client refused: ${JSON.stringify(client.json)}`)
    await eventually(`${poller} to be ready`, () => workloadReady(agent, poller, 1))
    const logPath = await pollerRunning(`${await podmanPodOf(agent, ns, poller)}-app`)
    await poolFull(agent, peerId)
    const started = Date.now()
    const posted = await api(agent, "POST", "/v1/workloads", ordersManifest(service, replicas))
    const postMs = Date.now() - started
    if (posted.status !== 201) throw new Error(`deploy refused: ${JSON.stringify(posted.json)}`)
    const answered = await awaitAnswers(logPath, started, replicas)
    return { first: answered.first - started, all: answered.all - started, postMs }
  } finally {
    await remove(agent, service)
    await remove(agent, poller)
  }
}

const memoryFigures = async (agentPid: number, reports: string) => ({
  ...memoryOf(agentPid),
  heap: await heapOf(agentPid, reports),
})

const summary = (samples: ReadonlyArray<number>) => ({
  p50: Math.round(percentile(samples, 50)),
  p99: Math.round(percentile(samples, 99)),
  runs: samples.map(Math.round),
})

const main = async () => {
  requirePrerequisites()
  buildDemoImages()
  buildPollerImage()
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-bench-agent-"))
  const reports = await mkdtemp(join(tmpdir(), "beemesh-bench-reports-"))
  const options = agentNodeOptions(args["node-options"])
  // As the systemd unit's ExecStartPre: the bundle's compile cache is written before the agent
  // starts, so a first run after a build measures the agent a user runs (idle ~20 MiB less).
  const warmed = spawnSync(process.execPath, [...options, args.bundle ?? AGENT_BUNDLE, "--version"])
  if (warmed.status !== 0) throw new Error(`agent --version failed: ${warmed.stderr}`)
  const agent = await startAgent(
    dataDir,
    await freePort(),
    undefined,
    ["--warm-pods", String(WARM)],
    {
      options: [...options, ...reportFlags(reports)],
      ...(args.bundle === undefined ? {} : { bundle: args.bundle }),
    },
  )
  const agentPid = agent.child.pid!
  const peerId = String((await api(agent, "GET", "/health")).json?.peerId)
  const idleNode = spawnSync(
    process.execPath,
    [
      "-e",
      "setTimeout(() => console.log(require('fs').readFileSync('/proc/self/smaps_rollup', 'utf8')), 500)",
    ],
    { encoding: "utf8" },
  )
  const nodeField = (name: string) =>
    Math.round(
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(idleNode.stdout)?.[1]) / 102.4,
    ) / 10
  try {
    await sleep(SETTLE_MS)
    const idle = await memoryFigures(agentPid, reports)
    console.error(`agent idle: ${JSON.stringify(idle)}`)

    const sides = {
      plain: { one: [] as Array<Sample>, many: [] as Array<Sample> },
      beemesh: { one: [] as Array<Sample>, many: [] as Array<Sample> },
    }
    const posts = { one: [] as Array<number>, many: [] as Array<number> }
    for (let round = 0; round < ROUNDS; round++) {
      const order =
        round % 2 === 0 ? (["plain", "beemesh"] as const) : (["beemesh", "plain"] as const)
      for (const replicas of [1, REPLICAS]) {
        for (const side of order) {
          let sample: Sample
          if (side === "plain")
            sample = await plainRound(round, replicas, () => poolFull(agent, peerId))
          else {
            const mesh = await meshRound(agent, peerId, round, replicas)
            posts[replicas === 1 ? "one" : "many"].push(mesh.postMs)
            sample = mesh
          }
          sides[side][replicas === 1 ? "one" : "many"].push(sample)
          console.error(
            `round ${round + 1}/${ROUNDS} ${side} ×${replicas}: first ${Math.round(sample.first)} ms, all ${Math.round(sample.all)} ms`,
          )
        }
      }
    }

    // --pods 0 leaves the loaded measure out.
    let withPods: typeof idle | undefined
    if (PODS > 0) {
      const many = `many-${PODS}`
      const posted = await api(agent, "POST", "/v1/workloads", ordersManifest(many, PODS))
      if (posted.status !== 201)
        throw new Error(`${PODS}-replica deploy failed: ${JSON.stringify(posted.json)}`)
      await eventually(`${PODS} replicas ready`, () => workloadReady(agent, many, PODS), 300_000)
      await sleep(SETTLE_MS)
      withPods = await memoryFigures(agentPid, reports)
      console.error(`agent with ${PODS} pods: ${JSON.stringify(withPods)}`)
      await remove(agent, many)
    }

    const results = {
      agent: { bundle: args.bundle ?? "dist/agent.mjs", nodeOptions: options, warmPods: WARM },
      rounds: ROUNDS,
      replicas: REPLICAS,
      deployToFirstAnswerMs: {
        plain: summary(sides.plain.one.map((s) => s.first)),
        beemesh: summary(sides.beemesh.one.map((s) => s.first)),
      },
      deployToAllAnsweringMs: {
        plain: summary(sides.plain.many.map((s) => s.all)),
        beemesh: summary(sides.beemesh.many.map((s) => s.all)),
      },
      deployManyToFirstAnswerMs: {
        plain: summary(sides.plain.many.map((s) => s.first)),
        beemesh: summary(sides.beemesh.many.map((s) => s.first)),
      },
      postAnsweredMs: { one: summary(posts.one), many: summary(posts.many) },
      agentMemory: { idle, [`with${PODS}Pods`]: withPods },
      idleNode: { rssMiB: nodeField("Rss"), pssMiB: nodeField("Pss") },
    }
    const row = (
      label: string,
      figures: { plain: { p50: number; p99: number }; beemesh: { p50: number; p99: number } },
    ) =>
      console.log(
        `  ${label.padEnd(34)} ${String(figures.plain.p50).padStart(6)} ${String(figures.plain.p99).padStart(6)}   ${String(figures.beemesh.p50).padStart(6)} ${String(figures.beemesh.p99).padStart(6)}   ${(figures.beemesh.p50 / figures.plain.p50).toFixed(2)}×`,
      )
    console.log(
      `\nDeploy → answering, ms (${ROUNDS} interleaved rounds${WARM > 0 ? `, ${WARM} warm pods` : ""})   plain p50    p99   beemesh p50    p99   p50 ratio`,
    )
    row("1 replica, first answer", results.deployToFirstAnswerMs)
    row(`${REPLICAS} replicas, first answer`, results.deployManyToFirstAnswerMs)
    row(`${REPLICAS} replicas, all answering`, results.deployToAllAnsweringMs)
    console.log(
      `  POST answered: 1 replica p50 ${results.postAnsweredMs.one.p50} p99 ${results.postAnsweredMs.one.p99}; ${REPLICAS} replicas p50 ${results.postAnsweredMs.many.p50} p99 ${results.postAnsweredMs.many.p99}`,
    )
    console.log("\nMemory, MiB                     RSS     PSS  private   heap used/total")
    const memRow = (label: string, m: typeof idle) =>
      console.log(
        `  ${label.padEnd(28)} ${String(m.rssMiB).padStart(6)} ${String(m.pssMiB).padStart(7)} ${String(m.privateMiB).padStart(8)}   ${m.heap.heapUsedMiB}/${m.heap.heapTotalMiB}`,
      )
    console.log(
      `  ${"idle node process".padEnd(28)} ${String(results.idleNode.rssMiB).padStart(6)} ${String(results.idleNode.pssMiB).padStart(7)}`,
    )
    memRow("agent idle", idle)
    if (withPods !== undefined) memRow(`agent with ${PODS} pods`, withPods)
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`)
    console.log(`\nwrote ${OUT}`)
  } catch (error) {
    // What the agent said is the first thing to read when a round fails.
    const logFile = join(dirname(OUT), "deploy-agent.log")
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(logFile, agent.logs())
    console.error(`the agent's log: ${logFile}`)
    throw error
  } finally {
    const listed = await api(agent, "GET", "/v1/workloads").catch(() => undefined)
    for (const workload of (listed?.json?.workloads ?? []) as Array<{
      namespace: string
      name: string
    }>) {
      await api(agent, "DELETE", `/v1/workloads/${workload.namespace}/${workload.name}`).catch(
        () => undefined,
      )
    }
    await agent.stop()
    const left = run("podman", ["ps", "-aq", "--filter", `label=${LABEL}`]).stdout.trim()
    if (left !== "") run("podman", ["rm", "-f", "-t", "0", ...left.split("\n")])
    await rm(dataDir, { recursive: true, force: true })
    await rm(reports, { recursive: true, force: true })
  }
}

await main()
