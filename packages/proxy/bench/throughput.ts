/**
 * Proxy benchmark: direct TCP vs one plain TCP hop (a node pipe proxy) vs the full Beemesh path
 * (app → outbound proxy → libp2p/noise/yamux → inbound proxy → app), all on loopback, in one run.
 * Scenario `ready` is the full path with 4 ready streams per provider (as the sidecar runs it).
 * Each scenario runs in its own Node process, once with Node's defaults and once with
 * `proxyNodeFlags` (what the sidecar runs with), so the table compares both side by side.
 *
 *   pnpm bench                          every scenario × both settings, table + JSON
 *   pnpm bench -- --only full           one scenario, both settings
 *   tsx bench/throughput.ts --child full   one scenario in this process (for node --cpu-prof)
 *
 * Measures: bulk throughput (one connection, one direction), 1 KiB request/response latency on an
 * open connection (p50/p99), connection setup (connect + first 1 KiB round trip, p50/p99), and the
 * process's peak RSS. Environment: BENCH_BULK_MIB (256), BENCH_ROUNDS (3000), BENCH_SETUPS (300),
 * BENCH_REPEAT (1: rounds of all children, alternating settings).
 */
import { spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { Context, Effect, Layer } from "effect"
import {
  Inbound,
  Libp2pNode,
  Outbound,
  ProxyMetrics,
  proxyNodeFlags,
  Resolver,
} from "../src/index.js"
import { makeNode, providerOf, startServer } from "../test/integration/fixtures.js"

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const scenarios = {
  direct: "direct TCP",
  hop: "one TCP hop (node pipe)",
  full: "full path (proxy→libp2p→proxy)",
  ready: "full path, 4 ready streams",
} as const
type ScenarioKey = keyof typeof scenarios
const isScenario = (key: string | undefined): key is ScenarioKey =>
  key !== undefined && Object.hasOwn(scenarios, key)
const bulkBytes = Number(process.env.BENCH_BULK_MIB ?? 256) * MiB
const latencyRounds = Number(process.env.BENCH_ROUNDS ?? 3000)
const setupRounds = Number(process.env.BENCH_SETUPS ?? 300)

interface Result {
  readonly scenario: string
  readonly nodeFlags: string
  readonly throughputMiBps: number
  readonly cpuMsPerMiB: number
  readonly latencyP50us: number
  readonly latencyP99us: number
  readonly setupP50us: number
  readonly setupP99us: number
  readonly setupCpuUs: number
  readonly maxRssMiB: number
}

const connect = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(socket))
    socket.once("error", reject)
  })

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/** Sends bulkBytes and waits for the sink's one-byte receipt. */
const throughput = async (port: number) => {
  const socket = await connect(port)
  const chunk = Buffer.alloc(256 * 1024, 7)
  const start = process.hrtime.bigint()
  const cpuStart = process.cpuUsage()
  const receipt = new Promise<void>((resolve) => socket.once("data", () => resolve()))
  for (let sent = 0; sent < bulkBytes; sent += chunk.byteLength) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r))
  }
  socket.end()
  await receipt
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpuStart)
  socket.destroy()
  // CPU time per MiB (all threads of this process) is steadier than MiB/s on a shared machine.
  return {
    mibps: bulkBytes / MiB / seconds,
    cpuMsPerMiB: (cpu.user + cpu.system) / 1e3 / (bulkBytes / MiB),
  }
}

/** 1 KiB request, 1 KiB echo, strictly sequential on one connection. */
const roundTrips = async (socket: net.Socket, rounds: number) => {
  const request = Buffer.alloc(1024, 1)
  const samples: number[] = []
  let pending: (() => void) | undefined
  let received = 0
  socket.on("data", (chunk: Buffer) => {
    received += chunk.byteLength
    if (received >= 1024 && pending) {
      received -= 1024
      const done = pending
      pending = undefined
      done()
    }
  })
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint()
    await new Promise<void>((resolve) => {
      pending = resolve
      socket.write(request)
    })
    samples.push(Number(process.hrtime.bigint() - start) / 1e3)
  }
  return samples
}

const latency = async (port: number) => {
  const socket = await connect(port)
  await roundTrips(socket, 200) // warm-up
  socket.removeAllListeners("data")
  const samples = (await roundTrips(socket, latencyRounds)).sort((a, b) => a - b)
  socket.destroy()
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) }
}

/** New connection + first 1 KiB round trip. */
const setup = async (port: number) => {
  const samples: number[] = []
  let cpuStart = process.cpuUsage()
  for (let i = 0; i < setupRounds + 20; i++) {
    if (i === 20) cpuStart = process.cpuUsage()
    const start = process.hrtime.bigint()
    const socket = await connect(port)
    await roundTrips(socket, 1)
    const us = Number(process.hrtime.bigint() - start) / 1e3
    if (i >= 20) samples.push(us)
    socket.destroy()
  }
  const cpu = process.cpuUsage(cpuStart)
  samples.sort((a, b) => a - b)
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    // CPU per setup (whole process: client, proxies, app) is steadier than wall time under load.
    cpuUs: (cpu.user + cpu.system) / setupRounds,
  }
}

type Measured = Omit<Result, "scenario" | "nodeFlags" | "maxRssMiB">

const measure = async (bulkPort: number, echoPort: number): Promise<Measured> => {
  const bulk = await throughput(bulkPort)
  const lat = await latency(echoPort)
  const set = await setup(echoPort)
  return {
    throughputMiBps: Math.round(bulk.mibps),
    cpuMsPerMiB: Number(bulk.cpuMsPerMiB.toFixed(2)),
    latencyP50us: Math.round(lat.p50),
    latencyP99us: Math.round(lat.p99),
    setupP50us: Math.round(set.p50),
    setupP99us: Math.round(set.p99),
    setupCpuUs: Math.round(set.cpuUs),
  }
}

/** A plain TCP hop: every accepted socket piped to the target. */
const pipeProxy = (targetPort: number) =>
  startServer((socket) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort, noDelay: true })
    upstream.on("error", () => socket.destroy())
    socket.setNoDelay(true)
    socket.pipe(upstream).pipe(socket)
  })

const sinkApp = (socket: net.Socket) => {
  socket.on("data", () => {})
  socket.on("end", () => socket.end("k"))
}
const echoApp = (socket: net.Socket) => {
  socket.setNoDelay(true)
  socket.pipe(socket)
}

/** One scenario in this process: its own servers, proxies and libp2p nodes, released after. */
const runScenario = (key: ScenarioKey) =>
  Effect.gen(function* () {
    const sink = yield* startServer(sinkApp)
    const echo = yield* startServer(echoApp)
    if (key === "direct") return yield* Effect.promise(() => measure(sink.port, echo.port))
    if (key === "hop") {
      const sinkHop = yield* pipeProxy(sink.port)
      const echoHop = yield* pipeProxy(echo.port)
      return yield* Effect.promise(() => measure(sinkHop.port, echoHop.port))
    }
    const serverNode = yield* makeNode
    const clientNode = yield* makeNode
    const table = { sink: [providerOf(serverNode)], echo: [providerOf(serverNode)] }
    yield* Layer.build(
      Inbound.layer({
        services: {
          sink: { host: "127.0.0.1", port: sink.port },
          echo: { host: "127.0.0.1", port: echo.port },
        },
      }).pipe(Layer.provide(ProxyMetrics.layer), Layer.provide(Libp2pNode.layer(serverNode))),
    )
    const clientCtx = yield* Layer.build(
      Outbound.layer(key === "ready" ? { readyStreams: 4 } : {}).pipe(
        Layer.provide(ProxyMetrics.layer),
        Layer.provide(Libp2pNode.layer(clientNode)),
        Layer.provide(Resolver.static(table)),
      ),
    )
    const outbound = Context.get(clientCtx, Outbound)
    const sinkUp = yield* outbound.listen({ service: "sink", port: 0 })
    const echoUp = yield* outbound.listen({ service: "echo", port: 0 })
    return yield* Effect.promise(() => measure(sinkUp.port, echoUp.port))
  }).pipe(Effect.scoped)

/** Runs one scenario in a child Node process with the given V8 flags; its result is on stdout. */
const inChild = (key: ScenarioKey, flags: ReadonlyArray<string>) =>
  new Promise<Result>((resolve, reject) => {
    // process.execArgv carries tsx's loader, so the child runs this same TypeScript file; the
    // parent's own copy of the flags is dropped so that "defaults" means defaults.
    const inherited = process.execArgv.filter((arg) => !proxyNodeFlags.includes(arg))
    const child = spawn(
      process.execPath,
      [...inherited, ...flags, fileURLToPath(import.meta.url), "--child", key],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    let out = ""
    child.stdout.on("data", (chunk) => {
      out += String(chunk)
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      const line = out.trim().split("\n").pop() ?? ""
      if (code !== 0 || !line.startsWith("{")) {
        reject(new Error(`bench child "${key}" ${flags.join(" ")} exited ${code}: ${out}`))
        return
      }
      const measured = JSON.parse(line) as Measured & { maxRssMiB: number }
      resolve({ scenario: scenarios[key], nodeFlags: flags.join(" ") || "(defaults)", ...measured })
    })
  })

const printTable = (results: ReadonlyArray<Result>) => {
  const columns = [
    ["scenario", 32],
    ["node flags", 12],
    ["MiB/s", 6],
    ["cpu ms/MiB", 11],
    ["1KiB rtt p50 µs", 16],
    ["p99 µs", 7],
    ["setup p50 µs", 13],
    ["p99 µs", 7],
    ["setup cpu µs", 13],
    ["max RSS MiB", 11],
  ] as const
  console.log(columns.map(([name, width]) => name.padEnd(width)).join(" "))
  for (const r of results) {
    const cells = [
      r.scenario,
      r.nodeFlags === "(defaults)" ? "defaults" : "proxy flags",
      r.throughputMiBps,
      r.cpuMsPerMiB,
      r.latencyP50us,
      r.latencyP99us,
      r.setupP50us,
      r.setupP99us,
      r.setupCpuUs,
      r.maxRssMiB,
    ]
    console.log(cells.map((cell, i) => String(cell).padEnd(columns[i]![1])).join(" "))
  }
}

const child = option("--child")
if (child !== undefined) {
  if (!isScenario(child))
    throw new Error(`--child ${child}: expected one of ${Object.keys(scenarios).join(", ")}`)
  const measured = await Effect.runPromise(runScenario(child))
  const maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024)
  console.log(JSON.stringify({ ...measured, maxRssMiB }))
} else {
  const only = option("--only")
  if (only !== undefined && !isScenario(only)) {
    throw new Error(`--only ${only}: expected one of ${Object.keys(scenarios).join(", ")}`)
  }
  const keys = only === undefined ? (Object.keys(scenarios) as ScenarioKey[]) : [only]
  const repeat = Number(process.env.BENCH_REPEAT ?? 1)
  const results: Result[] = []
  for (let round = 0; round < repeat; round++) {
    for (const key of keys) {
      // Alternate which setting goes first, so drift on a shared machine does not favour one.
      const settings = round % 2 === 0 ? [[], proxyNodeFlags] : [proxyNodeFlags, []]
      for (const flags of settings) results.push(await inChild(key, flags))
    }
  }
  // Table order: scenario, then defaults before proxy flags, then run order.
  const order: ReadonlyArray<string> = Object.values(scenarios)
  const rank = (r: Result) => order.indexOf(r.scenario) * 2 + (r.nodeFlags === "(defaults)" ? 0 : 1)
  results.sort((a, b) => rank(a) - rank(b))
  printTable(results)
  mkdirSync("bench-results", { recursive: true })
  writeFileSync(
    "bench-results/throughput.json",
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        bulkBytes,
        latencyRounds,
        setupRounds,
        proxyNodeFlags,
        results,
      },
      null,
      2,
    ),
  )
}
