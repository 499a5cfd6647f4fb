/**
 * Catalog benchmark across processes: N agent nodes (default 100), each its own Node process on
 * 127.0.0.1 (or K to a process with `--nodes-per-process K`, each node still its own libp2p host
 * with its own listener and connections), built as the agent builds its registry node (one mesh
 * authority's certificates, the mesh key, the catalog's gossipsub, `Registry` with `serveStale`)
 * and bootstrapped as agents are, from a few bootstrap peers. Measured:
 *
 * - propagation: `register()` at a random node until each other node's catalog has stored the
 *   record (every process reports its own arrival on the shared clock, protocol.ts), per round
 *   the last arrival ("to all") and every arrival;
 * - cold resolve at a random node of a service registered before the rounds: from the catalog
 *   (the agent's Registry) and from the DHT (a Registry without the catalog on the same node),
 *   after the rounds (a DHT walk's load on the shared cores would otherwise be in them);
 * - late joiners: a node started after the rounds, until its catalog holds every service (the
 *   anti-entropy sync on join);
 * - memory (RSS, PSS) and CPU per process, idle and during formation.
 *
 *   pnpm --filter @beemesh/registry bench:catalog-mesh [-- --nodes 100 --samples 20 --late 3]
 *
 * Prints a table; writes bench-results/catalog-mesh.json and the nodes' log beside it. Every node
 * process is stopped by its PID at the end, on failure and on SIGINT/SIGTERM.
 */
import { createWriteStream, rmSync, writeFileSync } from "node:fs"
import { mkdir, mkdtemp, writeFile } from "node:fs/promises"
import { availableParallelism, loadavg, tmpdir, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { bundleApp } from "@beemesh/bundle"
import { generateMeshKey } from "@beemesh/p2p"
import { privateKeyToProtobuf } from "@libp2p/crypto/keys"
import { Effect } from "effect"
import { certifiedAgents } from "../test/support/membership.js"
import {
  type HostProcess,
  killAllNow,
  newRequestId,
  pssBytes,
  spawnHost,
  stopAll,
} from "./catalog-mesh/children.js"
import {
  type FromNode,
  type NodeStatus,
  type ProcessStatus,
  sharedClock,
} from "./catalog-mesh/protocol.js"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    nodes: { type: "string", default: "100" },
    "nodes-per-process": { type: "string", default: "1" },
    samples: { type: "string", default: "20" },
    late: { type: "string", default: "3" },
    bootstrap: { type: "string", default: "3" },
    "start-concurrency": { type: "string", default: "4" },
    "budget-s": { type: "string", default: "2400" },
    "form-timeout-s": { type: "string", default: "300" },
    "settle-s": { type: "string", default: "20" },
    "round-gap-s": { type: "string", default: "5" },
    /** Default: the agent's bound (5 s). */
    "membership-timeout-ms": { type: "string" },
    /** V8 options for the node processes after the agent's, space-separated (to compare). */
    "node-flags": { type: "string", default: "" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/registry bench:catalog-mesh [-- --nodes 100 --samples 20 --late 3]",
      "  --nodes N                  agent nodes (default 100)",
      "  --nodes-per-process K      nodes hosted by one process, each with its own libp2p host and",
      "                             TCP listener (default 1: every node its own process, as agents run)",
      "  --samples N                propagation rounds, and services registered before them (default 20)",
      "  --late N                   late joiners started after the rounds (default 3)",
      "  --bootstrap N              bootstrap peers, started first (default 3)",
      "  --start-concurrency N      nodes started at a time after them (default 4)",
      "  --budget-s S               time budget: every node is stopped once it is spent (default 2400)",
      "  --form-timeout-s S         wait for the mesh to form after the last start; measured anyway after (default 300)",
      "  --settle-s S               wait after the services are registered, before the idle window and the rounds (default 20)",
      "  --round-gap-s S            gap between rounds, in which each registration's DHT copies run (default 5)",
      "  --membership-timeout-ms M  how long a peer has to prove membership (default: the agent's, 5000)",
      '  --node-flags "F …"         V8 options for the node processes after the agent\'s (default: none)',
      "Prints a table; writes bench-results/catalog-mesh.json and the nodes' log beside it.",
    ].join("\n"),
  )
  process.exit(0)
}
const size = Number(values.nodes)
const perProcess = Number(values["nodes-per-process"])
const samples = Number(values.samples)
const lateCount = Number(values.late)
const bootstrapCount = Math.min(Number(values.bootstrap), size)
const startConcurrency = Number(values["start-concurrency"])
const budgetMs = Number(values["budget-s"]) * 1000
const formTimeoutMs = Number(values["form-timeout-s"]) * 1000
const settleMs = Number(values["settle-s"]) * 1000
const roundGapMs = Number(values["round-gap-s"]) * 1000
const membershipTimeoutMs =
  values["membership-timeout-ms"] === undefined
    ? undefined
    : Number(values["membership-timeout-ms"])
const nodeFlags = values["node-flags"].split(/\s+/).filter(Boolean)
const MAY_BE_ZERO = ["late", "settle-s", "round-gap-s"]
for (const [option, n] of Object.entries({
  nodes: size,
  "nodes-per-process": perProcess,
  samples,
  late: lateCount,
  bootstrap: bootstrapCount,
  "start-concurrency": startConcurrency,
  "settle-s": settleMs / 1000,
  "round-gap-s": roundGapMs / 1000,
}))
  if (!Number.isInteger(n) || n < (MAY_BE_ZERO.includes(option) ? 0 : 1)) {
    console.error(
      `--${option}: expected a whole number of at least ${MAY_BE_ZERO.includes(option) ? 0 : 1}, got ${values[option as keyof typeof values]}`,
    )
    process.exit(2)
  }

const HERE = dirname(fileURLToPath(import.meta.url))
const ROUND_TIMEOUT_MS = 30_000
const SYNC_TIMEOUT_MS = 60_000
const STATUS_TIMEOUT_MS = 20_000
const JOIN_WAIT_MS = 30_000

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}
const round3 = (x: number) => Math.round(x * 1000) / 1000
const summary = (xs: ReadonlyArray<number>) => ({
  n: xs.length,
  p50: round3(quantile(xs, 0.5)),
  p99: round3(quantile(xs, 0.99)),
  max: round3(xs.length === 0 ? Number.NaN : Math.max(...xs)),
})
const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pick = (n: number, not?: number) => {
  for (;;) {
    const i = Math.floor(Math.random() * n)
    if (i !== not) return i
  }
}
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`)

/** Where each service was stored, by node index, on the shared clock. */
const arrivals = new Map<string, Map<number, number>>()
const onMessage = (message: FromNode) => {
  if (message.type !== "stored") return
  const at = arrivals.get(message.service) ?? new Map<number, number>()
  if (!at.has(message.node)) at.set(message.node, message.at)
  arrivals.set(message.service, at)
}
const waitFor = async (what: string, done: () => boolean, timeoutMs: number, stepMs = 10) => {
  const deadline = Date.now() + timeoutMs
  while (!done()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(stepMs)
  }
}

let partial: (() => object) | undefined

/** The nodes' bundle and its compile cache; removed when this process exits, however it exits. */
const work = await mkdtemp(join(tmpdir(), "beemesh-catalog-mesh-"))

const run = async () => {
  const bundle = await bundleApp({
    entry: join(HERE, "catalog-mesh/node.ts"),
    outfile: join(work, "node.mjs"),
  })
  await mkdir("bench-results", { recursive: true })
  const nodeLog = createWriteStream("bench-results/catalog-mesh-nodes.log")
  const agents = await Effect.runPromise(certifiedAgents(size + lateCount))
  const meshKey = generateMeshKey().hex
  const configOf = (index: number, bootstrap: ReadonlyArray<string>) => ({
    index,
    privateKey: Buffer.from(privateKeyToProtobuf(agents.keys[index]!)).toString("base64"),
    certificate: agents.certificates[index]!,
    authority: agents.authority,
    meshKey,
    bootstrap,
    listen: ["/ip4/127.0.0.1/tcp/0"],
    ...(membershipTimeoutMs === undefined ? {} : { membershipTimeoutMs }),
  })
  /**
   * The mesh's processes: node i in process ⌊i / perProcess⌋; a late joiner in a process of its
   * own (a new agent is a new process).
   */
  const hosts: HostProcess[] = []
  const lateHosts: HostProcess[] = []
  /** The process hosting each node, by node index. */
  const hostOf: HostProcess[] = []
  const spawn = (name: string) =>
    spawnHost(bundle, join(work, "compile-cache"), name, onMessage, nodeLog, nodeFlags)
  const hostFor = (index: number) => {
    if (index >= size) {
      const host = spawn(`${index}`)
      lateHosts.push(host)
      return host
    }
    const group = Math.floor(index / perProcess)
    const first = group * perProcess
    const last = Math.min(size, first + perProcess) - 1
    hosts[group] ??= spawn(first === last ? `${first}` : `${first}-${last}`)
    return hosts[group]
  }
  /** Every process's status; undefined for one that did not answer in time (a starved process). */
  const statusAll = (of: ReadonlyArray<HostProcess>) =>
    Promise.all(of.map((h) => h.status(STATUS_TIMEOUT_MS).catch(() => undefined)))
  /** Node statuses by index (0 … size − 1); undefined for a node whose process did not answer. */
  const byNode = (statuses: ReadonlyArray<ProcessStatus | undefined>) => {
    const out: Array<NodeStatus | undefined> = Array.from({ length: size }, () => undefined)
    for (const s of statuses) for (const n of s?.nodes ?? []) if (n.index < size) out[n.index] = n
    return out
  }
  const answered = <A>(statuses: ReadonlyArray<A | undefined>) =>
    statuses.filter((s): s is A => s !== undefined)
  /** A process's figure shared out over the nodes it hosts. */
  const perNode = (s: ProcessStatus, x: number) => x / Math.max(1, s.nodes.length)
  const startNode = async (index: number, bootstrap: ReadonlyArray<string>) => {
    const host = hostFor(index)
    hostOf[index] = host
    const ready = await host.startNode(configOf(index, bootstrap), 120_000)
    // Started as a fleet comes up, not all at once: the next node starts once this one has
    // joined (a few DHT peers, a catalog peer), or after JOIN_WAIT_MS.
    const deadline = sharedClock() + JOIN_WAIT_MS
    while (index > 0 && sharedClock() < deadline) {
      const status = await host
        .status(STATUS_TIMEOUT_MS)
        .then((s) => s.nodes.find((n) => n.index === index))
        .catch(() => undefined)
      if (
        status !== undefined &&
        status.routingTable >= Math.min(3, index) &&
        status.topicPeers >= 1
      )
        break
      await sleep(250)
    }
    return { ready }
  }

  // Formation: the bootstrap peers first, each knowing the ones before; then everybody else,
  // a few at a time, bootstrapping from them (an agent's config names a few bootstrap peers).
  const formStarted = sharedClock()
  const seeds: string[] = []
  for (let i = 0; i < bootstrapCount; i++) {
    const { ready } = await startNode(i, [...seeds])
    seeds.push(`${ready.addresses[0]}`)
  }
  let started = bootstrapCount
  await Promise.all(
    Array.from({ length: startConcurrency }, async () => {
      while (started < size) {
        const index = started++
        await startNode(index, seeds)
        if (index % 10 === 0) log(`node ${index} started`)
      }
    }),
  )
  const processesUp = sharedClock() - formStarted
  log(
    `${size} nodes in ${hosts.length} processes up in ${Math.round(processesUp)} ms; waiting for the gossipsub mesh`,
  )
  let formStatus: Array<NodeStatus | undefined> = []
  let formProcesses: Array<ProcessStatus | undefined> = []
  const formed = (s: NodeStatus | undefined) =>
    s !== undefined && s.routingTable >= 3 && s.meshPeers >= 1
  const formDeadline = sharedClock() + formTimeoutMs
  let lastProgress = sharedClock()
  for (;;) {
    formProcesses = await statusAll(hosts)
    formStatus = byNode(formProcesses)
    if (formStatus.every(formed)) break
    if (sharedClock() - lastProgress >= 10_000) {
      lastProgress = sharedClock()
      const waitingOn = formStatus.flatMap((s, i) =>
        formed(s)
          ? []
          : [
              s === undefined
                ? `${i} (no answer)`
                : `${i} (${s.routingTable} DHT peers, ${s.meshPeers} mesh of ${s.topicPeers} topic peers, ${s.connections} connections)`,
            ],
      )
      log(
        `not formed yet: ${waitingOn.slice(0, 8).join(", ")}${waitingOn.length > 8 ? ` and ${waitingOn.length - 8} more` : ""}`,
      )
    }
    if (sharedClock() > formDeadline) {
      // Measured anyway: the rounds show how far records get on a mesh that is not whole.
      log(
        `mesh not formed ${formTimeoutMs / 1000} s after the last node started: ${formStatus.filter((s) => s === undefined).length} nodes not answering, ${formStatus.filter((s) => s !== undefined && s.routingTable < 3).length} with fewer than 3 DHT peers, ${formStatus.filter((s) => s !== undefined && s.meshPeers < 1).length} without a gossipsub mesh peer; measuring anyway`,
      )
      break
    }
    await sleep(2_000)
  }
  const unformed = formStatus.filter((s) => !formed(s)).length
  const formMs = sharedClock() - formStarted
  log(`mesh formed in ${Math.round(formMs)} ms`)

  // Services registered before the rounds, resolved later (their DHT copies must have settled).
  const pre = Array.from({ length: samples }, (_, i) => ({ service: `pre-${i}`, at: pick(size) }))
  for (const { service, at } of pre)
    await hostOf[at]!.request(
      { type: "register", id: newRequestId(), node: at, service },
      "registered",
      30_000,
    )
  await waitFor(
    "every pre-registered service in every catalog",
    () => pre.every((p) => (arrivals.get(p.service)?.size ?? 0) === size),
    60_000,
  ).catch((error: Error) => log(`${error.message}; measuring anyway`))
  log(
    `${samples} services in every catalog; letting the DHT copies and the connections settle (${settleMs / 1000} s)`,
  )
  await sleep(settleMs)

  // Idle: CPU per process over 10 s, memory per process; per node, the process's share.
  const idle0 = await statusAll(hosts)
  const idleStarted = sharedClock()
  await sleep(10_000)
  const idle1 = await statusAll(hosts)
  const idleMs = sharedClock() - idleStarted
  const idleCpu = idle1.flatMap((s, i) => {
    const before = idle0[i]
    if (s === undefined || before === undefined) return []
    const msPerS = (s.cpuMicros - before.cpuMicros) / 1e3 / (idleMs / 1e3)
    return [{ process: msPerS, node: perNode(s, msPerS), nodes: s.nodes.length }]
  })
  const idleAnswered = answered(idle1)
  const idleNodes0 = byNode(idle0)
  const idleOpened = byNode(idle1).flatMap((s, i) => {
    const before = idleNodes0[i]
    return s === undefined || before === undefined
      ? []
      : [s.connectionsOpened - before.connectionsOpened]
  })
  const pss = answered(
    await Promise.all(
      hosts.map(async (h, i) => {
        const bytes = await pssBytes(h.pid)
        const nodes = idle1[i]?.nodes.length ?? perProcess
        return bytes === undefined ? undefined : { bytes, nodes }
      }),
    ),
  )
  const loadAtStart = loadavg()[0]!
  // The event-loop delay over the rounds (off until now: its timer's own wake-ups would have
  // counted in the idle window).
  for (const h of hosts) h.loopMonitor(true)
  log("idle measured; rounds start")

  const registerMs: number[] = []
  const toAll: number[] = []
  const each: number[] = []
  const missed: Array<{ round: number; missing: number }> = []
  const catalogCold: number[] = []
  const dhtCold: number[] = []
  const dhtFound: number[] = []
  /** Cold resolves the catalog could not answer (the record had not reached that node). */
  let catalogMisses = 0
  const roundsDetail: Array<{ round: number; origin: number; toAllMs: number; slowest: number[] }> =
    []
  // What the rounds measured so far, written if the budget runs out before the end.
  partial = () => ({
    partial: true,
    nodes: size,
    formMs: Math.round(formMs),
    unformedNodes: unformed,
    registerMs: summary(registerMs),
    propagationToAllMs: summary(toAll),
    propagationEachNodeMs: summary(each),
    missedRounds: missed,
    resolveColdMs: { catalog: summary(catalogCold), dht: summary(dhtCold) },
    catalogMisses,
    dhtProvidersFound: summary(dhtFound),
  })
  /** A cold resolve at a random node of the r-th service registered before the rounds. */
  const coldResolve = async (r: number) => {
    const { service: old, at } = pre[r]!
    const observer = pick(size, at)
    const resolved = await hostOf[observer]!.request(
      { type: "resolve", id: newRequestId(), node: observer, service: old },
      "resolved",
      60_000,
    )
    if (resolved.catalogFound !== 1) catalogMisses++
    catalogCold.push(resolved.catalogMs)
    dhtCold.push(resolved.dhtMs)
    dhtFound.push(resolved.dhtFound)
    return `cold catalog ${resolved.catalogMs.toFixed(3)} ms, cold DHT ${Math.round(resolved.dhtMs)} ms (${resolved.dhtFound} found)`
  }
  for (let r = 0; r < samples; r++) {
    const origin = pick(size)
    const service = `new-${r}`
    const registered = await hostOf[origin]!.request(
      { type: "register", id: newRequestId(), node: origin, service },
      "registered",
      30_000,
    )
    registerMs.push(registered.returnedAt - registered.calledAt)
    const arrived = () => arrivals.get(service) ?? new Map<number, number>()
    await waitFor(`${service} at every node`, () => arrived().size >= size, ROUND_TIMEOUT_MS).catch(
      () => missed.push({ round: r, missing: size - arrived().size }),
    )
    const times = [...arrived().entries()]
      .filter(([i]) => i !== origin && i < size)
      .map(([i, at]) => [i, at - registered.calledAt] as const)
    const ms = times.map(([, t]) => t)
    each.push(...ms)
    const last = ms.length === size - 1 ? Math.max(...ms) : ROUND_TIMEOUT_MS
    toAll.push(last)
    roundsDetail.push({
      round: r,
      origin,
      toAllMs: round3(last),
      slowest: [...times]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([i]) => i),
    })

    log(`round ${r + 1}/${samples}: to all ${Math.round(last)} ms`)
    // The registration's DHT copies (a put walk, a provide walk) run behind it, seconds long at
    // 100 processes on two cores: the next round starts --round-gap-s later, and overlaps any
    // walk still running then.
    await sleep(roundGapMs)
  }

  // Event-loop delay over the rounds (each status resets it): how starved the nodes were.
  const afterRounds = answered(await statusAll(hosts))
  for (const h of hosts) h.loopMonitor(false)

  // Cold resolves, after the rounds: a DHT fallback's walk dials peers not connected yet and, on
  // one machine hosting the whole mesh, takes the cores every other node's gossip needs; on
  // separate hosts it would cost each a share. Measured apart so neither figure is the other's.
  for (let r = 0; r < samples; r++) {
    log(`cold resolve ${r + 1}/${samples}: ${await coldResolve(r)}`)
    await sleep(500)
  }

  // Late joiners, one at a time: from process start until its catalog holds every service.
  const expected = [
    ...pre.map((p) => p.service),
    ...Array.from({ length: samples }, (_, r) => `new-${r}`),
  ]
  const late: Array<{
    index: number
    sinceSpawnMs: number
    sinceNodeStartMs: number
    entries: number
  }> = []
  for (let k = 0; k < lateCount; k++) {
    const index = size + k
    const spawnedAt = sharedClock()
    const { ready } = await startNode(index, seeds)
    const has = () => expected.filter((s) => arrivals.get(s)?.has(index)).length
    const synced = await waitFor(
      `late node ${index} to hold every service`,
      () => has() === expected.length,
      SYNC_TIMEOUT_MS,
    ).then(
      () => true,
      () => false,
    )
    const syncedAt = synced
      ? Math.max(...expected.map((s) => arrivals.get(s)!.get(index)!))
      : Number.NaN
    late.push({
      index,
      sinceSpawnMs: round3(syncedAt - spawnedAt),
      sinceNodeStartMs: round3(syncedAt - ready.startedAt),
      entries: has(),
    })
    log(
      synced
        ? `late node ${index}: every service ${Math.round(syncedAt - ready.startedAt)} ms after its node started`
        : `late node ${index}: ${has()} of ${expected.length} services after ${SYNC_TIMEOUT_MS} ms`,
    )
  }

  const final = answered((await statusAll([...hosts, ...lateHosts])).flatMap((s) => s?.nodes ?? []))
  const result = {
    nodes: size,
    processes: hosts.length,
    nodesPerProcess: perProcess,
    samples,
    bootstrapPeers: bootstrapCount,
    membershipTimeoutMs: membershipTimeoutMs ?? "agent default (5000)",
    nodeFlags,
    settleMs,
    roundGapMs,
    machine: { cores: availableParallelism(), memoryMiB: mib(totalmem()) },
    clock:
      "performance.timeOrigin + performance.now() in each process (ms, shared wall-clock origin)",
    loadAverage: { atStart: round3(loadAtStart), atEnd: round3(loadavg()[0]!) },
    processesUpMs: Math.round(processesUp),
    formMs: Math.round(formMs),
    /** Nodes without 3 DHT peers and a gossipsub mesh peer when the rounds started (0: formed). */
    unformedNodes: unformed,
    /** Per node: its process's CPU during formation, shared out over the nodes it hosts. */
    formCpuSPerNode: summary(
      answered(formProcesses).flatMap((s) =>
        Array(s.nodes.length).fill(perNode(s, s.cpuMicros / 1e6)),
      ),
    ),
    /** Per process; "per node" figures are a process's shared out over the nodes it hosts. */
    memory: {
      rssMiB: summary(idleAnswered.map((s) => mib(s.rssBytes))),
      pssMiB: summary(pss.map((p) => mib(p.bytes))),
      heapUsedMiB: summary(idleAnswered.map((s) => mib(s.heapUsedBytes))),
      pssMiBPerNode: summary(
        pss.flatMap((p) => Array(p.nodes).fill(mib(p.bytes / Math.max(1, p.nodes)))),
      ),
      totalRssMiB: mib(idleAnswered.reduce((n, s) => n + s.rssBytes, 0)),
      totalPssMiB: mib(pss.reduce((n, p) => n + p.bytes, 0)),
    },
    idleCpu: {
      windowMs: Math.round(idleMs),
      msPerSecondPerProcess: summary(idleCpu.map((c) => c.process)),
      msPerSecondPerNode: summary(idleCpu.flatMap((c) => Array(c.nodes).fill(c.node))),
      totalPercentOfOneCore: round3(idleCpu.reduce((a, c) => a + c.process, 0) / 10),
      nodesAnswering: idleCpu.reduce((a, c) => a + c.nodes, 0),
      /** Connections each node opened (either way) within the window: the mesh still forming. */
      connectionsOpenedPerNode: summary(idleOpened),
      connectionsPerNode: summary(answered(byNode(idle1)).map((s) => s.connections)),
    },
    mesh: {
      routingTable: summary(final.map((s) => s.routingTable)),
      connections: summary(final.map((s) => s.connections)),
      topicPeers: summary(final.map((s) => s.topicPeers)),
      meshPeers: summary(final.map((s) => s.meshPeers)),
      entries: summary(final.map((s) => s.entries)),
    },
    /**
     * Per process, the event loop's p99 and max delay over the rounds (50 ms resolution; not
     * measured in the idle window, whose CPU the monitor would add to).
     */
    loopDelayMs: {
      roundsP99: summary(afterRounds.map((s) => s.loopDelayP99Ms)),
      roundsMax: summary(afterRounds.map((s) => s.loopDelayMaxMs)),
    },
    registerMs: summary(registerMs),
    propagationToAllMs: summary(toAll),
    propagationEachNodeMs: summary(each),
    missedRounds: missed,
    rounds: roundsDetail,
    resolveColdMs: { catalog: summary(catalogCold), dht: summary(dhtCold) },
    catalogMisses,
    dhtProvidersFound: summary(dhtFound),
    lateJoiners: late,
  }
  await writeFile("bench-results/catalog-mesh.json", `${JSON.stringify(result, null, 2)}\n`)
  const killed = await stopAll(15_000)
  nodeLog.end()
  return { result, killed }
}

const row = (name: string, s: { n: number; p50: number; p99: number; max: number }) =>
  `${name.padEnd(36)} ${String(s.n).padStart(5)} ${String(s.p50).padStart(10)} ${String(s.p99).padStart(10)} ${String(s.max).padStart(10)}`

const interrupted = (signal: NodeJS.Signals) => {
  log(`${signal}: stopping every node`)
  void stopAll(3_000).finally(() => process.exit(130))
}
process.once("SIGINT", interrupted)
process.once("SIGTERM", interrupted)
process.once("exit", () => {
  killAllNow()
  rmSync(work, { recursive: true, force: true })
})
const budget = setTimeout(() => {
  log(`budget of ${budgetMs / 1000} s spent: stopping every node`)
  if (partial !== undefined)
    writeFileSync("bench-results/catalog-mesh.json", `${JSON.stringify(partial(), null, 2)}\n`)
  void stopAll(3_000).finally(() => process.exit(1))
}, budgetMs)

try {
  const { result, killed } = await run()
  clearTimeout(budget)
  console.log(
    [
      "",
      `mesh: ${result.nodes} nodes in ${result.processes} processes (+${result.lateJoiners.length} late, a process each), ${result.bootstrapPeers} bootstrap peers; up in ${result.processesUpMs} ms, mesh formed in ${result.formMs} ms (${result.unformedNodes} nodes not joined); load average ${result.loadAverage.atStart} → ${result.loadAverage.atEnd}`,
      `idle CPU, all processes: ${result.idleCpu.totalPercentOfOneCore}% of one core; total RSS ${result.memory.totalRssMiB} MiB, PSS ${result.memory.totalPssMiB} MiB`,
      `mesh at the end: gossipsub mesh peers p50 ${result.mesh.meshPeers.p50}, topic peers p50 ${result.mesh.topicPeers.p50}, connections p50 ${result.mesh.connections.p50}`,
      `nodes killed at the end (did not stop in 15 s): ${killed}`,
      "",
      `${"measure".padEnd(36)} ${"n".padStart(5)} ${"p50".padStart(10)} ${"p99".padStart(10)} ${"max".padStart(10)}`,
      row("register returns (ms)", result.registerMs),
      row("propagation, to all nodes (ms)", result.propagationToAllMs),
      row("propagation, each node (ms)", result.propagationEachNodeMs),
      row("cold resolve, catalog (ms)", result.resolveColdMs.catalog),
      row("cold resolve, DHT fallback (ms)", result.resolveColdMs.dht),
      row("providers found by DHT (want 1)", result.dhtProvidersFound),
      row(
        "late joiner synced, since start (ms)",
        summary(
          result.lateJoiners.map((l) => l.sinceNodeStartMs).filter((ms) => !Number.isNaN(ms)),
        ),
      ),
      ...(perProcess === 1
        ? []
        : [
            row("idle CPU per process (ms/s)", result.idleCpu.msPerSecondPerProcess),
            row("PSS per node, its share (MiB)", result.memory.pssMiBPerNode),
          ]),
      row("idle CPU per node (ms/s)", result.idleCpu.msPerSecondPerNode),
      row("connections per node, idle", result.idleCpu.connectionsPerNode),
      row("  opened in the idle window", result.idleCpu.connectionsOpenedPerNode),
      row("RSS per process (MiB)", result.memory.rssMiB),
      row("PSS per process (MiB)", result.memory.pssMiB),
      row("heap used per process (MiB)", result.memory.heapUsedMiB),
      row("formation CPU per node (s)", result.formCpuSPerNode),
      row("event-loop delay p99, rounds (ms)", result.loopDelayMs.roundsP99),
      row("event-loop delay max, rounds (ms)", result.loopDelayMs.roundsMax),
      result.missedRounds.length === 0
        ? ""
        : `rounds that missed nodes: ${JSON.stringify(result.missedRounds)}`,
    ].join("\n"),
  )
  process.exit(0)
} catch (error) {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`)
  const killed = await stopAll(5_000)
  log(`stopped every node (${killed} killed)`)
  process.exit(1)
}
