/**
 * Proxy benchmark: direct TCP vs one plain TCP hop (a node pipe proxy) vs the full Beemesh path
 * (app → outbound proxy → libp2p/noise/yamux → inbound proxy → app), all on loopback, in one run.
 *
 *   pnpm bench                      all scenarios, table + bench-results/throughput.json
 *   pnpm bench -- --only full       one scenario (e.g. under node --cpu-prof)
 *
 * Measures: bulk throughput (one connection, one direction), 1 KiB request/response latency on an
 * open connection (p50/p99), and connection setup (connect + first 1 KiB round trip, p50/p99).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { Context, Effect, Layer } from "effect"
import { Inbound, Libp2pNode, Outbound, ProxyMetrics, Resolver } from "../src/index"
import { makeNode, providerOf, startServer } from "../test/integration/fixtures"

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined
const bulkBytes = Number(process.env.BENCH_BULK_MIB ?? 256) * MiB
const latencyRounds = Number(process.env.BENCH_ROUNDS ?? 3000)
const setupRounds = Number(process.env.BENCH_SETUPS ?? 300)

interface Result {
  readonly scenario: string
  readonly throughputMiBps: number
  readonly cpuMsPerMiB: number
  readonly latencyP50us: number
  readonly latencyP99us: number
  readonly setupP50us: number
  readonly setupP99us: number
  readonly setupCpuUs: number
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

const measure = async (scenario: string, bulkPort: number, echoPort: number): Promise<Result> => {
  const bulk = await throughput(bulkPort)
  const lat = await latency(echoPort)
  const set = await setup(echoPort)
  return {
    scenario,
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

const program = Effect.gen(function* () {
  const sink = yield* startServer(sinkApp)
  const echo = yield* startServer(echoApp)
  const results: Result[] = []
  const want = (name: string) => only === undefined || only === name

  if (want("direct")) {
    results.push(yield* Effect.promise(() => measure("direct TCP", sink.port, echo.port)))
  }
  if (want("hop")) {
    const sinkHop = yield* pipeProxy(sink.port)
    const echoHop = yield* pipeProxy(echo.port)
    results.push(
      yield* Effect.promise(() => measure("one TCP hop (pipe)", sinkHop.port, echoHop.port)),
    )
  }
  if (want("full")) {
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
      Outbound.layer().pipe(
        Layer.provide(ProxyMetrics.layer),
        Layer.provide(Libp2pNode.layer(clientNode)),
        Layer.provide(Resolver.static(table)),
      ),
    )
    const outbound = Context.get(clientCtx, Outbound)
    const sinkUp = yield* outbound.listen({ service: "sink", port: 0 })
    const echoUp = yield* outbound.listen({ service: "echo", port: 0 })
    results.push(
      yield* Effect.promise(() =>
        measure("full path (proxy→libp2p→proxy)", sinkUp.port, echoUp.port),
      ),
    )
  }
  return results
})

const results = await Effect.runPromise(Effect.scoped(program))
const columns = [
  ["scenario", 32],
  ["MiB/s", 8],
  ["cpu ms/MiB", 11],
  ["1KiB rtt p50 µs", 16],
  ["p99 µs", 8],
  ["setup p50 µs", 13],
  ["p99 µs", 8],
  ["setup cpu µs", 12],
] as const
console.log(columns.map(([name, width]) => name.padEnd(width)).join(" "))
for (const r of results) {
  const cells = [
    r.scenario,
    r.throughputMiBps,
    r.cpuMsPerMiB,
    r.latencyP50us,
    r.latencyP99us,
    r.setupP50us,
    r.setupP99us,
    r.setupCpuUs,
  ]
  console.log(cells.map((cell, i) => String(cell).padEnd(columns[i]![1])).join(" "))
}
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
      results,
    },
    null,
    2,
  ),
)
