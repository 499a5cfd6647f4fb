/**
 * Registry benchmark: resolve latency (cold = full DHT walk, cached) and register latency versus
 * mesh size, with a raw kad-dht `get` of one key as the baseline measured in the same run, and
 * the process RSS per mesh. All nodes run in this process on 127.0.0.1.
 *
 * Each size runs two meshes side by side: `plain` (no membership) and `membership` (every node a
 * certified agent: records carry certificates, validators and resolve check them). Samples
 * alternate between the two (plain, membership, plain, …) so both see the same machine load.
 *
 *   pnpm --filter @beemesh/registry bench [-- --sizes 10,50,100 --samples 10 --services 4 --budget-s 300]
 *
 * Prints a table; writes bench-results/resolve.json.
 */
import { mkdir, writeFile } from "node:fs/promises"
import { parseArgs } from "node:util"
import { Effect, Exit, Scope } from "effect"
import { drain } from "../src/internal/query.js"
import * as Names from "../src/Names.js"
import * as ServiceRecord from "../src/ServiceRecord.js"
import { certifiedAgents } from "../test/support/membership.js"
import { type MeshNode, startMesh } from "../test/support/mesh.js"

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    sizes: { type: "string", default: "10,50,100" },
    samples: { type: "string", default: "10" },
    services: { type: "string", default: "4" },
    "budget-s": { type: "string", default: "300" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/registry bench [-- --sizes 10,50,100 --samples 10 --services 4 --budget-s 300]",
      "  --sizes N,N,...  mesh sizes, comma-separated (default 10,50,100)",
      "  --samples N      resolve samples per mesh, plain and membership interleaved (default 10)",
      "  --services N     services registered per mesh (default 4)",
      "  --budget-s S     time budget; sizes left when it is used up are skipped (default 300)",
      "Prints a table; writes bench-results/resolve.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const sizes = values.sizes.split(",").map(Number)
const samples = Number(values.samples)
const serviceCount = Number(values.services)
const budgetMs = Number(values["budget-s"]) * 1000
const started = Date.now()

interface Stats {
  readonly n: number
  readonly p50: number
  readonly p99: number
  readonly mean: number
}
const stats = (xs: ReadonlyArray<number>): Stats => {
  const s = [...xs].sort((a, b) => a - b)
  const at = (q: number) =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN
  return {
    n: s.length,
    p50: at(0.5),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
  }
}
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const a = yield* effect
    return [performance.now() - t0, a] as const
  })
const pick = <A>(xs: ReadonlyArray<A>, i: number) => xs[i % xs.length]!
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024)

type Variant = "plain" | "membership"
const VARIANTS: ReadonlyArray<Variant> = ["plain", "membership"]

interface SizeResult {
  readonly meshSize: number
  readonly variant?: Variant
  readonly formMs?: number
  readonly rssMiB?: number
  readonly rssPerNodeMiB?: number
  readonly rssGrowthMiB?: number
  readonly registerMs?: Stats
  readonly resolveColdMs?: Stats
  readonly resolveCachedMs?: Stats
  readonly baselineRawGetMs?: Stats
  readonly skipped?: string
}

/** One mesh of `size` nodes with registered services, ready to be sampled. */
const prepare = (size: number, variant: Variant) =>
  Effect.gen(function* () {
    const agents = variant === "membership" ? yield* certifiedAgents(size) : undefined
    const t0 = performance.now()
    const mesh = yield* startMesh(size, {
      registry: { cacheTtlMs: 60_000, queryTimeoutMs: 15_000 },
      formTimeoutMs: 90_000,
      // One Kademlia join per node, as real hosts do; the seeds know everybody.
      rejoin: false,
      // 100 nodes on 2 cores saturate the CPU: handshakes take seconds, not milliseconds.
      node: { dialTimeoutMs: 15_000 },
      ...(agents === undefined
        ? {}
        : {
            perNode: (i: number) => ({
              privateKey: agents.keys[i]!,
              provenance: agents.membership(i),
            }),
          }),
      minRoutingTable: 2,
    })
    const formMs = performance.now() - t0
    const scope = yield* Effect.scope

    // Register: one endpoint of each service on a spread of nodes (signed put + provide).
    const registerMs: number[] = []
    const names: Array<{ namespace: string; service: string }> = []
    for (let i = 0; i < serviceCount; i++) {
      const provider = pick(mesh, i * 7 + 1)
      const name = { namespace: "bench", service: `svc-${i}` }
      const [ms] = yield* timed(
        provider.registry
          .register(name.namespace, name.service, {
            workload: "w",
            pod: `w-${i}`,
            ports: [{ port: 8080 }],
          })
          .pipe(Scope.provide(scope)),
      )
      registerMs.push(ms)
      names.push(name)
    }
    return { variant, mesh, names, formMs, registerMs }
  })

type Prepared = Effect.Success<ReturnType<typeof prepare>>

/** One sample on one mesh: a cold resolve, a cached one, and the raw DHT get baseline. */
const sample = (prepared: Prepared, i: number) =>
  Effect.gen(function* () {
    const { mesh, names } = prepared
    const observer: MeshNode = pick(mesh, i * 13 + 3)
    const name = pick(names, i)
    const [coldMs, records] = yield* timed(
      observer.registry.resolve(name.namespace, name.service, { fresh: true }),
    )
    if (records.length !== 1) {
      return yield* Effect.die(
        new Error(
          `${prepared.variant} node ${observer.index} resolved ${records.length} providers for ${name.service}`,
        ),
      )
    }
    const [cachedMs] = yield* timed(observer.registry.resolve(name.namespace, name.service))
    // Baseline: the bare DHT cost of one value lookup of the same provider record.
    const key = Names.serviceRecordKey(name, records[0]!.provider)
    const [getMs] = yield* timed(
      drain(
        "get",
        "bench",
        15_000,
        (signal) => observer.libp2p.dht.get(key, { signal }),
        0,
        (n) => n,
      ),
    )
    return { coldMs, cachedMs, getMs }
  })

const measure = (size: number, rssBefore: number) =>
  Effect.gen(function* () {
    const prepared = yield* Effect.forEach(VARIANTS, (variant) => prepare(size, variant))
    const times = prepared.map(() => ({
      cold: [] as number[],
      cached: [] as number[],
      get: [] as number[],
    }))
    // Interleaved: plain, membership, plain, membership … on the same machine load.
    for (let i = 0; i < samples; i++) {
      for (const [v, p] of prepared.entries()) {
        const { coldMs, cachedMs, getMs } = yield* sample(p, i)
        times[v]!.cold.push(coldMs)
        times[v]!.cached.push(cachedMs)
        times[v]!.get.push(getMs)
      }
    }
    const rss = process.memoryUsage().rss
    return prepared.map(
      (p, v) =>
        ({
          meshSize: size,
          variant: p.variant,
          formMs: Math.round(p.formMs),
          rssMiB: mib(rss),
          // Whole-process RSS (both meshes) over their node count: an upper bound.
          rssPerNodeMiB: Math.round((rss / (2 * size) / 1024 / 1024) * 10) / 10,
          rssGrowthMiB: mib(rss - rssBefore),
          registerMs: stats(p.registerMs),
          resolveColdMs: stats(times[v]!.cold),
          resolveCachedMs: stats(times[v]!.cached),
          baselineRawGetMs: stats(times[v]!.get),
        }) satisfies SizeResult,
    )
  })

/**
 * The checks alone, without DHT walks: verifying one signed record as every validator and resolve
 * do, plain (signature, schema, freshness) and with the membership (plus the certificate chain),
 * interleaved, on a record as the registry publishes it.
 */
const verifyCost = (rounds: number) =>
  Effect.gen(function* () {
    const agents = yield* certifiedAgents(1)
    const key = agents.keys[0]!
    const membership = agents.membership(0)
    const record = (certificate?: string): ServiceRecord.ServiceRecord => ({
      kind: "beemesh.service/v1",
      namespace: "bench",
      service: "svc",
      provider: agents.peerIds[0]!,
      issuedAt: Date.now(),
      ttlMs: 60_000,
      sequence: Date.now(),
      endpoints: [
        {
          workload: "w",
          pod: "w-0",
          multiaddrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${agents.peerIds[0]}`],
          ports: [{ port: 8080 }],
        },
      ],
      ...(certificate === undefined ? {} : { certificate }),
    })
    const plain = yield* ServiceRecord.sign(key, record())
    const certified = yield* ServiceRecord.sign(key, record(agents.certificates[0]))
    const times = { plain: [] as number[], membership: [] as number[] }
    for (let i = 0; i < rounds; i++) {
      const now = Date.now()
      const [plainMs] = yield* timed(ServiceRecord.verify(plain.bytes, { now }))
      const [memberMs] = yield* timed(ServiceRecord.verify(certified.bytes, { now, membership }))
      times.plain.push(plainMs * 1000)
      times.membership.push(memberMs * 1000)
    }
    return {
      recordBytes: { plain: plain.bytes.length, membership: certified.bytes.length },
      verifyUs: { plain: stats(times.plain), membership: stats(times.membership) },
    }
  })

const main = async () => {
  const verification = await Effect.runPromise(verifyCost(2000))
  const results: SizeResult[] = []
  for (const size of sizes) {
    const remaining = budgetMs - (Date.now() - started)
    if (remaining < 30_000) {
      results.push({ meshSize: size, skipped: `time budget of ${budgetMs / 1000} s used up` })
      continue
    }
    const rssBefore = process.memoryUsage().rss
    const scope = Effect.runSync(Scope.make())
    const exit = await Effect.runPromiseExit(
      Scope.provide(measure(size, rssBefore), scope).pipe(Effect.timeout(remaining)),
    )
    const t0 = performance.now()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    const stopMs = Math.round(performance.now() - t0)
    if (Exit.isSuccess(exit)) {
      results.push(...exit.value)
      console.error(`mesh ${size}: done (stopped in ${stopMs} ms)`)
    } else {
      results.push({ meshSize: size, skipped: String(exit.cause).slice(0, 300) })
      console.error(`mesh ${size}: failed: ${String(exit.cause).slice(0, 300)}`)
    }
  }

  const f = (s: Stats | undefined) =>
    s === undefined ? "-" : `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)}`
  const header = [
    "nodes",
    "mesh",
    "form ms",
    "RSS MiB (/node)",
    "register p50/p99 ms",
    "resolve cold p50/p99 ms",
    "resolve cached p50/p99 ms",
    "baseline raw dht.get p50/p99 ms",
  ]
  const rows = results.map((r) =>
    r.skipped !== undefined
      ? [String(r.meshSize), "", `skipped: ${r.skipped}`, "", "", "", "", ""]
      : [
          String(r.meshSize),
          r.variant ?? "",
          String(r.formMs),
          `${r.rssMiB} (${r.rssPerNodeMiB})`,
          f(r.registerMs),
          f(r.resolveColdMs),
          f(r.resolveCachedMs),
          f(r.baselineRawGetMs),
        ],
  )
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  const us = (s: Stats) => `p50 ${s.p50.toFixed(0)} µs, p99 ${s.p99.toFixed(0)} µs`
  console.log(
    `verify one record (${verification.verifyUs.plain.n} interleaved rounds): plain ${us(verification.verifyUs.plain)} (${verification.recordBytes.plain} B); membership ${us(verification.verifyUs.membership)} (${verification.recordBytes.membership} B)\n`,
  )
  console.log(line(header))
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
  for (const r of rows) console.log(line(r))

  const output = {
    benchmark: "registry-resolve",
    date: new Date().toISOString(),
    node: process.versions.node,
    cpus: (await import("node:os")).cpus().length,
    samplesPerSize: samples,
    servicesPerSize: serviceCount,
    notes:
      "all nodes in one process on 127.0.0.1; per size two meshes side by side, plain (no membership) and membership (certified agents; certificates checked by validators and resolve), samples interleaved; cold = resolve({fresh:true}) = findProviders + one DHT get per provider + verification; cached = second resolve; baseline = one raw kad-dht get of the same record key",
    verification,
    results,
  }
  await mkdir(new URL("../bench-results/", import.meta.url), { recursive: true })
  await writeFile(
    new URL("../bench-results/resolve.json", import.meta.url),
    `${JSON.stringify(output, null, 2)}\n`,
  )
  console.log(
    `\nwritten: bench-results/resolve.json (${Math.round((Date.now() - started) / 1000)} s)`,
  )
}

await main()
