/**
 * Catalog benchmark: one mesh of N in-process nodes on 127.0.0.1 (default 100), every node a
 * certified agent running the replicated catalog beside the DHT. Measured, interleaved per round:
 *
 * - propagation: a new registration at a random node, until each other node has stored it
 *   (per round: the last node's arrival = "to all"; also every node's arrival);
 * - cold resolve, catalog: the first resolve of an already registered service at a random node
 *   (Registry with the Catalog beside it);
 * - cold resolve, DHT: the same service at the same node through a Registry without the catalog on
 *   the same libp2p node (the DHT path: find providers, then get each provider's record), also
 *   its first resolve of that service there;
 * - cached resolve: the same again, the median of 1000 calls in a row (catalog: the local lookup;
 *   DHT: the registry's cache).
 *
 * Memory (RSS, heap) and CPU (process time while idle, per node) of the whole process are
 * reported with the mesh. All nodes share this process and its two cores.
 *
 *   pnpm --filter @beemesh/registry bench:catalog [-- --nodes 100 --samples 20]
 *
 * Prints a table; writes bench-results/catalog.json.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { loadavg } from "node:os"
import { parseArgs } from "node:util"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Libp2pNode } from "../src/Libp2pNode.js"
import { Registry, type RegistryShape } from "../src/Registry.js"
import { certifiedAgents } from "../test/support/membership.js"
import { eventually, type MeshNode, startMesh } from "../test/support/mesh.js"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    nodes: { type: "string", default: "100" },
    samples: { type: "string", default: "20" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/registry bench:catalog [-- --nodes 100 --samples 20]",
      "  --nodes N     in-process nodes in the mesh (default 100)",
      "  --samples N   measured rounds, and services registered before them (default 20)",
      "Prints a table; writes bench-results/catalog.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const size = Number(values.nodes)
const samples = Number(values.samples)
const NAMESPACE = "bench"

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
}
const summary = (xs: ReadonlyArray<number>) => ({
  n: xs.length,
  p50: round(quantile(xs, 0.5)),
  p99: round(quantile(xs, 0.99)),
  max: round(Math.max(...xs)),
})
const round = (x: number) => Math.round(x * 1000) / 1000
const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10
const pick = (n: number, not?: number) => {
  for (;;) {
    const i = Math.floor(Math.random() * n)
    if (i !== not) return i
  }
}
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const a = yield* effect
    return [performance.now() - t0, a] as const
  })
/**
 * Median time of one call over CACHED_CALLS calls in a row (at most 3 s of them): a mean would also count whatever the
 * other nodes in this process did whenever the runtime yielded in between.
 */
const CACHED_CALLS = 1_000
const medianOf = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const times: number[] = []
    // Bounded in time too: an answer that stops being cached turns every call into a lookup.
    const until = performance.now() + 3_000
    for (let i = 0; i < CACHED_CALLS && performance.now() < until; i++) {
      const t0 = performance.now()
      yield* effect
      times.push(performance.now() - t0)
    }
    return quantile(times, 0.5)
  })
const endpoint = (pod: string) => ({ workload: "bench", pod, ports: [{ port: 8080 }] })

/** A Registry without the catalog on `node`'s libp2p node: the DHT path, as before the catalog. */
const dhtRegistry = (node: MeshNode, scope: Scope.Scope) =>
  Layer.buildWithScope(
    Registry.layer({ queryTimeoutMs: 10_000 }).pipe(
      Layer.provide(Layer.succeed(Libp2pNode, node.libp2p)),
    ),
    scope,
  ).pipe(Effect.map((context) => Context.get(context, Registry)))

const main = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const agents = yield* certifiedAgents(size)
  const cpu0 = process.cpuUsage()
  const formStarted = performance.now()
  const mesh = yield* startMesh(size, {
    catalog: {},
    // Records live 5 min (re-signed every 100 s): the DHT copies a refresh writes are the heaviest
    // background load of a large in-process mesh, and the rounds take a few minutes.
    registry: { queryTimeoutMs: 10_000, recordTtlMs: 300_000 },
    perNode: (i) => ({ privateKey: agents.keys[i]!, provenance: agents.membership(i) }),
    formTimeoutMs: 420_000,
  }).pipe(Scope.provide(scope))
  const formMs = performance.now() - formStarted
  const formCpu = process.cpuUsage(cpu0)
  console.log(`mesh of ${size} formed in ${Math.round(formMs)} ms`)

  // Services to resolve later, registered well before (their DHT copies are written behind the
  // registration, and must be in place before the DHT path is timed).
  const registered = yield* Effect.forEach(
    Array.from({ length: samples }, (_, i) => i),
    (i) => {
      const at = pick(size)
      return mesh[at]!.registry.register(NAMESPACE, `pre-${i}`, endpoint(`pre-${i}-0`)).pipe(
        Scope.provide(scope),
        Effect.as({ service: `pre-${i}`, at }),
      )
    },
    { concurrency: 4 },
  )
  yield* eventually(
    "every pre-registered service to reach every node's catalog",
    Effect.sync(() =>
      mesh.every((n) =>
        registered.every((r) => n.catalog!.lookup(NAMESPACE, r.service, Date.now()).length === 1),
      ),
    ),
    (done) => done,
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  console.log(`${samples} services registered and in every catalog`)
  // Let the DHT copies settle (each is a put and a provide walk across the mesh).
  yield* Effect.sleep(20_000)

  const idleCpu0 = process.cpuUsage()
  const idleStarted = performance.now()
  yield* Effect.sleep(10_000)
  const idleCpu = process.cpuUsage(idleCpu0)
  const idleMs = performance.now() - idleStarted
  const memory = process.memoryUsage()

  console.log("idle CPU measured; rounds start")
  const loadAtStart = loadavg()[0]!
  const propagationToAll: number[] = []
  const propagationEach: number[] = []
  const registerMs: number[] = []
  const catalogCold: number[] = []
  const dhtCold: number[] = []
  const catalogCached: number[] = []
  const dhtCached: number[] = []
  const dhtFound: number[] = []
  const dhtRegistries = new Map<number, RegistryShape>()

  for (let round = 0; round < samples; round++) {
    // Propagation of a new registration.
    const origin = pick(size)
    const service = `new-${round}`
    const arrivals = new Map<number, number>()
    const stops = mesh.map((n) =>
      n.catalog!.onStored((record) => {
        if (record.service === service && !arrivals.has(n.index))
          arrivals.set(n.index, performance.now())
      }),
    )
    const t0 = performance.now()
    yield* mesh[origin]!.registry.register(NAMESPACE, service, endpoint(`${service}-0`)).pipe(
      Scope.provide(scope),
    )
    registerMs.push(performance.now() - t0)
    console.log(`round ${round + 1}: registered ${service}`)
    yield* eventually(
      `${service} to reach every node`,
      Effect.sync(() => arrivals.size),
      (n) => n === size,
      { timeoutMs: 30_000, intervalMs: 5 },
    )
    for (const stop of stops) stop()
    const others = [...arrivals.entries()].filter(([i]) => i !== origin).map(([, t]) => t - t0)
    propagationToAll.push(Math.max(...others))
    propagationEach.push(...others)

    // Cold, then cached resolve of a service registered long ago, catalog and DHT alternating.
    const { service: old, at } = registered[round]!
    const observer = pick(size, at)
    const node = mesh[observer]!
    const [coldMs, found] = yield* timed(node.registry.resolve(NAMESPACE, old))
    if (found.length !== 1) throw new Error(`catalog resolve of ${old} found ${found.length}`)
    catalogCold.push(coldMs)
    const dht = dhtRegistries.get(observer) ?? (yield* dhtRegistry(node, scope))
    dhtRegistries.set(observer, dht)
    const [dhtMs, dhtRecords] = yield* timed(dht.resolve(NAMESPACE, old))
    dhtCold.push(dhtMs)
    dhtFound.push(dhtRecords.length)
    catalogCached.push(yield* medianOf(node.registry.resolve(NAMESPACE, old)))
    // An empty DHT answer is not cached: each call would be another walk.
    if (dhtRecords.length > 0) dhtCached.push(yield* medianOf(dht.resolve(NAMESPACE, old)))
    console.log(
      `round ${round + 1}/${samples}: to all ${Math.round(propagationToAll.at(-1)!)} ms, cold catalog ${coldMs.toFixed(3)} ms, cold DHT ${Math.round(dhtMs)} ms (${dhtRecords.length} found)`,
    )
  }

  const stats = mesh.map((n) => n.catalog!.stats())
  const result = {
    nodes: size,
    samples,
    /** The machine is shared: its 1-minute load average at the start and the end of the rounds. */
    loadAverage: { atStart: round(loadAtStart), atEnd: round(loadavg()[0]!) },
    formMs: Math.round(formMs),
    formCpuS: round((formCpu.user + formCpu.system) / 1e6),
    memory: {
      rssMiB: mib(memory.rss),
      rssPerNodeMiB: round(mib(memory.rss) / size),
      heapUsedMiB: mib(memory.heapUsed),
    },
    idleCpu: {
      windowMs: Math.round(idleMs),
      cpuPercentOfOneCore: round(((idleCpu.user + idleCpu.system) / 1e3 / idleMs) * 100),
      cpuMsPerNodePerSecond: round((idleCpu.user + idleCpu.system) / 1e3 / (idleMs / 1000) / size),
    },
    registerMs: summary(registerMs),
    propagationToAllMs: summary(propagationToAll),
    propagationEachNodeMs: summary(propagationEach),
    resolveColdMs: { catalog: summary(catalogCold), dht: summary(dhtCold) },
    resolveCachedMs: { catalog: summary(catalogCached), dht: summary(dhtCached) },
    dhtProvidersFound: summary(dhtFound),
    catalogEntriesPerNode: summary(stats.map((s) => s.entries)),
    catalogRejected: stats.reduce(
      (n, s) => n + Object.values(s.rejected).reduce((a, b) => a + (b ?? 0), 0),
      0,
    ),
  }
  yield* Scope.close(scope, Exit.void)
  return result
})

const result = await Effect.runPromise(main)
const row = (name: string, s: { n: number; p50: number; p99: number; max: number }) =>
  `${name.padEnd(34)} ${String(s.n).padStart(4)} ${String(s.p50).padStart(10)} ${String(s.p99).padStart(10)} ${String(s.max).padStart(10)}`
console.log(
  [
    "",
    `mesh: ${result.nodes} nodes in one process, formed in ${result.formMs} ms (${result.formCpuS} s CPU); load average ${result.loadAverage.atStart} → ${result.loadAverage.atEnd}`,
    `memory: RSS ${result.memory.rssMiB} MiB (${result.memory.rssPerNodeMiB} MiB/node), heap ${result.memory.heapUsedMiB} MiB`,
    `idle CPU: ${result.idleCpu.cpuPercentOfOneCore}% of one core (${result.idleCpu.cpuMsPerNodePerSecond} ms/s per node)`,
    "",
    `${"measure (ms)".padEnd(34)} ${"n".padStart(4)} ${"p50".padStart(10)} ${"p99".padStart(10)} ${"max".padStart(10)}`,
    row("register (returns)", result.registerMs),
    row("propagation, to all nodes", result.propagationToAllMs),
    row("propagation, each node", result.propagationEachNodeMs),
    row("cold resolve, catalog", result.resolveColdMs.catalog),
    row("cold resolve, DHT", result.resolveColdMs.dht),
    row("cached resolve (median), catalog", result.resolveCachedMs.catalog),
    row("cached resolve (median), DHT", result.resolveCachedMs.dht),
    row("providers found by DHT (want 1)", result.dhtProvidersFound),
  ].join("\n"),
)
await mkdir("bench-results", { recursive: true })
await writeFile("bench-results/catalog.json", `${JSON.stringify(result, null, 2)}\n`)
process.exit(0)
