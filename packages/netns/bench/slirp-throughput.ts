/**
 * Guest → host TCP throughput through slirp4netns at MTU 1500 and 65520, against the host's own
 * loopback as the baseline, in one run. The receiver is a sink on the host's 127.0.0.1 (started
 * here); the sender writes for a fixed time, from the host (baseline) or from inside a fresh
 * namespace to the slirp4netns gateway 10.0.2.2 (which slirp4netns maps to the host loopback).
 * Prints a table and writes bench-results/slirp-throughput.json. Needs root.
 */
import { mkdir, writeFile } from "node:fs/promises"
import net from "node:net"
import { fileURLToPath } from "node:url"
import { Effect, Layer } from "effect"
import { execa } from "execa"
import { HostTools } from "../src/HostTools.js"
import { defaultSlirpOptions } from "../src/SlirpOptions.js"
import { Netns } from "../src/standalone/Netns.js"
import { Slirp } from "../src/standalone/Slirp.js"

const DURATION_MS = 3000
const client = fileURLToPath(new URL("../test/fixtures/sink.mjs", import.meta.url))

interface Received {
  readonly bytes: number
  readonly seconds: number
}

/** A sink on the host loopback; each connection's bytes and duration (first byte → end). */
const sink = Effect.acquireRelease(
  Effect.callback<{ server: net.Server; port: number; next: () => Promise<Received> }>((resume) => {
    let waiter: ((r: Received) => void) | undefined
    const server = net.createServer((socket) => {
      let bytes = 0
      let first = 0n
      socket.on("data", (d: Buffer) => {
        if (first === 0n) first = process.hrtime.bigint()
        bytes += d.length
      })
      socket.on("end", () => {
        const seconds = Number(process.hrtime.bigint() - first) / 1e9
        socket.end()
        waiter?.({ bytes, seconds })
      })
      socket.on("error", () => {})
    })
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed({
          server,
          port: (server.address() as net.AddressInfo).port,
          next: () =>
            new Promise<Received>((r) => {
              waiter = r
            }),
        }),
      ),
    )
  }),
  ({ server }) =>
    Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
    }),
)

interface Row {
  readonly case: string
  readonly mtu: number | null
  readonly mibPerSecond: number
  readonly relativeToLoopback: number
  readonly bytes: number
  readonly seconds: number
}

const program = Effect.gen(function* () {
  if (process.getuid?.() !== 0) {
    return yield* Effect.die(new Error("the benchmark needs root (ip netns, slirp4netns)"))
  }
  const { port, next } = yield* sink
  const measure = (send: Effect.Effect<unknown, unknown>) =>
    Effect.gen(function* () {
      const received = Effect.promise(next)
      const [, r] = yield* Effect.all([send, received], { concurrency: 2 })
      return r
    })

  const baseline = yield* measure(
    Effect.promise(() =>
      execa(process.execPath, [client, "127.0.0.1", String(port), String(DURATION_MS)]),
    ),
  )
  const rows: Array<Row> = []
  const row = (name: string, mtu: number | null, r: Received): Row => {
    const mib = r.bytes / r.seconds / 2 ** 20
    const base = baseline.bytes / baseline.seconds / 2 ** 20
    return {
      case: name,
      mtu,
      mibPerSecond: Math.round(mib),
      relativeToLoopback: Math.round((mib / base) * 1000) / 1000,
      bytes: r.bytes,
      seconds: Math.round(r.seconds * 1000) / 1000,
    }
  }
  rows.push(row("host loopback (baseline)", null, baseline))

  const netns = yield* Netns
  const slirp = yield* Slirp
  for (const mtu of [1500, 65520]) {
    const r = yield* Effect.scoped(
      Effect.gen(function* () {
        const ns = yield* netns.create({ namePrefix: "bm-bench" })
        const handle = yield* slirp.start({
          target: ns.target,
          options: { ...defaultSlirpOptions, enableIpv6: false, mtu },
        })
        return yield* measure(
          netns.exec(
            ns.target,
            [process.execPath, client, handle.addresses.gateway, String(port), String(DURATION_MS)],
            { timeoutMs: DURATION_MS + 30_000 },
          ),
        )
      }),
    )
    rows.push(row(`netns → slirp4netns → host loopback`, mtu, r))
  }

  const header = ["case", "MTU", "MiB/s", "× loopback"]
  const table = [
    header,
    ...rows.map((r) => [
      r.case,
      String(r.mtu ?? "-"),
      String(r.mibPerSecond),
      String(r.relativeToLoopback),
    ]),
  ]
  const widths = header.map((_, i) => Math.max(...table.map((t) => t[i]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  console.log(
    `guest → host TCP throughput, ${DURATION_MS / 1000} s per case, node ${process.version}`,
  )
  console.log(line(header))
  console.log(line(widths.map((w) => "-".repeat(w))))
  for (const t of table.slice(1)) console.log(line(t))

  const out = new URL("../bench-results/", import.meta.url)
  yield* Effect.promise(() => mkdir(out, { recursive: true }))
  yield* Effect.promise(() =>
    writeFile(
      new URL("slirp-throughput.json", out),
      `${JSON.stringify({ benchmark: "slirp-throughput", durationMs: DURATION_MS, node: process.version, at: new Date().toISOString(), rows }, null, 2)}\n`,
    ),
  )
})

const layer = Layer.mergeAll(Netns.layer, Slirp.layer).pipe(Layer.provideMerge(HostTools.layer()))
Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(layer))).catch((error) => {
  console.error(error)
  process.exit(1)
})
