/**
 * What the two sidecars on a connection's path cost per request and per new connection, next to
 * the cheapest Node proxy pair there is: two bare `net` forwarders (`socket.pipe`). Everything
 * runs on 127.0.0.1 as host processes, so no slirp4netns, Podman or other pod adds to the figures
 * or to their noise (`@beemesh/agent`'s `bench:dataplane` measures the same path between real
 * pods). Sides, each an HTTP server process (Node, keep-alive; it closes a connection whose request
 * says `Connection: close`) reached by `hey`:
 *   direct:         hey → server;
 *   node forwarders: hey → forwarder → forwarder → server (each its own Node process: the floor of
 *                   a Node proxy pair, with neither encryption nor multiplexing);
 *   sidecars (tcp): hey → sidecar A (upstream) ═libp2p over TCP═▶ sidecar B (service) → server;
 *   sidecars (unix): the same over the same-host path (both sidecars given one BEEMESH_SAMEHOST_DIR).
 * The sidecars run as the image runs them (the minified bundle, its compile cache, SIDECAR_NODE_FLAGS,
 * the glibc tunables). Per round, every side in turn (the first side rotating):
 *   - keep-alive: `hey -c 1` (one request at a time on one connection): the mean time per request
 *     (1 / rate, to the µs; hey's percentiles are to 0.1 ms) and p50 / p99;
 *   - new connections: `hey -c 1 -disable-keepalive` (a TCP connection per request): rate and p50;
 *   - the CPU time (user + system, all threads, from /proc) of each proxy process per request.
 * Prints medians of the rounds and what each side adds over `direct`; writes bench-results/hops.json.
 *   pnpm --filter @beemesh/sidecar bench:hops [-- --rounds 5 --requests 20000 --connections 3000
 *     --sidecar-flags="--max-semi-space-size=4"]
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs, promisify } from "node:util"
import { NODE_BINARY } from "../image/build"
import { BUNDLE_PATH, bundleSidecar, PACKAGE_DIR } from "../image/bundle"
import { writeCompileCache } from "../image/compileCache"
import { SIDECAR_NODE_FLAGS } from "../src/NodeFlags"
import { accepting, freePort, waitFor } from "../test/support/net"
import { startStandInAgent } from "../test/support/StandInAgent"
import { runBench } from "./run"
import { startSidecarPair } from "./sidecarPair"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    rounds: { type: "string", default: "5" },
    requests: { type: "string", default: "20000" },
    connections: { type: "string", default: "3000" },
    "sidecar-flags": { type: "string", default: "" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    [
      "pnpm --filter @beemesh/sidecar bench:hops [-- --rounds 5 --requests 20000 --connections 3000]",
      "  --rounds N        rounds, every side in each (the first side rotating); medians reported (default 5)",
      "  --requests N      keep-alive requests per side and round (default 20000)",
      "  --connections N   new connections per side and round (default 3000)",
      "  --sidecar-flags=F more Node/V8 flags for the sidecars, with '=': --sidecar-flags=\"--max-semi-space-size=4\"",
      "                    (a flag the compile cache was not written with makes Node refuse it: start-up only)",
      "Prints a table and writes bench-results/hops.json. Needs `hey` on the PATH.",
    ].join("\n"),
  )
  process.exit(0)
}
const positive = (name: string, text: string) => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number of at least 1, got "${text}"`)
    process.exit(2)
  }
  return n
}
const ROUNDS = positive("rounds", args.rounds)
const REQUESTS = positive("requests", args.requests)
const CONNECTIONS = positive("connections", args.connections)
const SIDECAR_FLAGS = [
  ...SIDECAR_NODE_FLAGS,
  ...args["sidecar-flags"].split(" ").filter((flag) => flag !== ""),
]
const OUT = join(PACKAGE_DIR, "bench-results/hops.json")

const execFileP = promisify(execFile)
const children: Array<ChildProcess> = []
/** Set once the measurements are over: children exiting from then on are not reported. */
let stopping = false

/** A Node process of this bench (stderr kept for the report should it exit early). */
const start = (name: string, argv: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(NODE_BINARY, argv, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  })
  let stderr = ""
  child.stderr?.on("data", (d) => {
    stderr = (stderr + String(d)).slice(-4000)
  })
  child.on("exit", (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}) during the bench:\n${stderr}`)
  })
  children.push(child)
  return child
}

/** The HTTP server behind every side: 100 bytes per answer, connections kept open unless asked. */
const SERVER = `const http = require("node:http")
const body = Buffer.alloc(100, 120)
const server = http.createServer((req, res) => res.end(body))
server.keepAliveTimeout = 60000
server.listen(Number(process.argv[1]), "127.0.0.1")`

/** A bare forwarder: every connection piped to the next hop, no buffering of its own. */
const FORWARDER = `const net = require("node:net")
const [listen, target] = process.argv.slice(1).map(Number)
net.createServer((c) => {
  const u = net.connect(target, "127.0.0.1")
  c.setNoDelay(true)
  u.setNoDelay(true)
  c.pipe(u).pipe(c)
  c.on("error", () => u.destroy())
  u.on("error", () => c.destroy())
}).listen(listen, "127.0.0.1")`

/** /proc's clock ticks per second (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
const CLOCK_TICKS = 100
/** CPU time (user + system, every thread) of a process so far, in µs. */
const cpuUs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
}

const hey = async (argv: ReadonlyArray<string>) => {
  const { stdout } = await execFileP("hey", argv, { maxBuffer: 16 * 1024 * 1024 })
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1])
  const pct = (p: number) => Number(new RegExp(`${p}% in ([\\d.]+) secs`).exec(stdout)?.[1]) * 1000
  const errors = /Error distribution:([\s\S]*)/.exec(stdout)?.[1]?.trim()
  if (!Number.isFinite(rate)) throw new Error(`hey printed no rate:\n${stdout}`)
  if (errors !== undefined && errors !== "") throw new Error(`hey saw errors:\n${errors}`)
  return { rate, p50: pct(50), p99: pct(99) }
}

interface Side {
  readonly name: string
  readonly port: number
  /** The proxy processes on the path (none for direct). */
  readonly proxies: ReadonlyArray<number>
}

const measure = async (side: Side) => {
  const url = `http://127.0.0.1:${side.port}/`
  const cpu = async <A>(count: number, work: () => Promise<A>) => {
    const before = side.proxies.map(cpuUs)
    const result = await work()
    return { result, cpu: side.proxies.map((pid, i) => (cpuUs(pid) - before[i]!) / count) }
  }
  const keepAlive = await cpu(REQUESTS, () => hey(["-n", String(REQUESTS), "-c", "1", url]))
  const newConn = await cpu(CONNECTIONS, () =>
    hey(["-n", String(CONNECTIONS), "-c", "1", "-disable-keepalive", url]),
  )
  return {
    keepAliveMeanUs: 1e6 / keepAlive.result.rate,
    keepAliveP50Ms: keepAlive.result.p50,
    keepAliveP99Ms: keepAlive.result.p99,
    keepAliveCpuUs: keepAlive.cpu,
    newConnRate: newConn.result.rate,
    newConnP50Ms: newConn.result.p50,
    newConnCpuUs: newConn.cpu,
  }
}
type Figures = Awaited<ReturnType<typeof measure>>

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = async () => {
  await execFileP("hey", ["-h"]).catch((e: { code?: string }) => {
    if (e.code === "ENOENT")
      throw new Error("hey is not installed: `tooling/run setup` installs it (apt-get install hey)")
  })
  await bundleSidecar()
  writeCompileCache(BUNDLE_PATH, NODE_BINARY)
  const sameHostDir = mkdtempSync(join(tmpdir(), "beemesh-bench-hops-"))
  try {
    const [serverPort, fwd1, fwd2] = [await freePort(), await freePort(), await freePort()]
    start("server", ["-e", SERVER, String(serverPort)])
    const f2 = start("forwarder 2", ["-e", FORWARDER, String(fwd2), String(serverPort)])
    const f1 = start("forwarder 1", ["-e", FORWARDER, String(fwd1), String(fwd2)])

    const tokens: Record<string, string> = {}
    for (const pod of ["tcp-a", "tcp-b", "unix-a", "unix-b"])
      tokens[pod] = `bench-token-${pod}-0123456789`
    const agent = await startStandInAgent({ tokens })
    const sidecarPair = async (name: "tcp" | "unix"): Promise<Side> => {
      const pair = await startSidecarPair({
        start,
        flags: SIDECAR_FLAGS,
        agentUrl: agent.url,
        caller: { pod: `${name}-a`, token: tokens[`${name}-a`]! },
        provider: { pod: `${name}-b`, token: tokens[`${name}-b`]! },
        service: `web-${name}`,
        target: serverPort,
        workload: `hops-${name}`,
        ...(name === "unix" ? { env: { BEEMESH_SAMEHOST_DIR: sameHostDir } } : {}),
      })
      return {
        name: `sidecars (${name})`,
        port: pair.upstream,
        proxies: [pair.caller.pid!, pair.provider.pid!],
      }
    }
    await waitFor("server listening", accepting(serverPort))
    await waitFor("forwarders listening", accepting(fwd1))
    const sides: ReadonlyArray<Side> = [
      { name: "direct", port: serverPort, proxies: [] },
      { name: "node forwarders", port: fwd1, proxies: [f1.pid!, f2.pid!] },
      await sidecarPair("tcp"),
      await sidecarPair("unix"),
    ]
    // A short warm-up of every path (JIT, the sidecars' first connection and ready streams).
    for (const side of sides) await hey(["-n", "2000", "-c", "1", `http://127.0.0.1:${side.port}/`])

    const results = new Map<string, Array<Figures>>(sides.map((s) => [s.name, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      for (const side of order) {
        const figures = await measure(side)
        results.get(side.name)!.push(figures)
        console.error(
          `round ${round + 1}/${ROUNDS} ${side.name}: keep-alive ${figures.keepAliveMeanUs.toFixed(0)} µs, new connections ${figures.newConnRate.toFixed(0)}/s`,
        )
      }
    }

    const summary = sides.map((side) => {
      const rounds = results.get(side.name)!
      const m = (pick: (f: Figures) => number) => median(rounds.map(pick))
      const cpuOf = (pick: (f: Figures) => ReadonlyArray<number>) =>
        side.proxies.map((_, i) => m((f) => pick(f)[i]!))
      return {
        side: side.name,
        keepAliveMeanUs: m((f) => f.keepAliveMeanUs),
        keepAliveP50Ms: m((f) => f.keepAliveP50Ms),
        keepAliveP99Ms: m((f) => f.keepAliveP99Ms),
        keepAliveCpuUs: cpuOf((f) => f.keepAliveCpuUs),
        newConnRate: m((f) => f.newConnRate),
        newConnP50Ms: m((f) => f.newConnP50Ms),
        newConnCpuUs: cpuOf((f) => f.newConnCpuUs),
      }
    })
    const direct = summary[0]!
    const row = (cells: ReadonlyArray<string | number>) =>
      cells.map((c, i) => (i === 0 ? String(c).padEnd(18) : String(c).padStart(14))).join("")
    const cpuText = (values: ReadonlyArray<number>) =>
      values.length === 0 ? "-" : values.map((v) => v.toFixed(0)).join(" + ")
    console.log(
      `\nProxy hops on 127.0.0.1, medians of ${ROUNDS} interleaved rounds (${REQUESTS} keep-alive requests, ${CONNECTIONS} new connections per side and round)`,
    )
    console.log(
      row([
        "side",
        "ka mean µs",
        "ka added µs",
        "ka p50/p99 ms",
        "ka cpu µs",
        "new conn/s",
        "nc p50 ms",
        "nc cpu µs",
      ]),
    )
    for (const s of summary)
      console.log(
        row([
          s.side,
          s.keepAliveMeanUs.toFixed(0),
          (s.keepAliveMeanUs - direct.keepAliveMeanUs).toFixed(0),
          `${s.keepAliveP50Ms.toFixed(1)}/${s.keepAliveP99Ms.toFixed(1)}`,
          cpuText(s.keepAliveCpuUs),
          s.newConnRate.toFixed(0),
          s.newConnP50Ms.toFixed(1),
          cpuText(s.newConnCpuUs),
        ]),
      )
    console.log(
      "ka: keep-alive request (mean = 1 / rate, one at a time); cpu: each proxy process's CPU per request or connection (caller's first)",
    )
    mkdirSync(join(PACKAGE_DIR, "bench-results"), { recursive: true })
    writeFileSync(
      OUT,
      `${JSON.stringify(
        {
          at: new Date().toISOString(),
          node: process.version,
          loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
          rounds: ROUNDS,
          requests: REQUESTS,
          connections: CONNECTIONS,
          sidecarFlags: SIDECAR_FLAGS,
          summary,
          perRound: Object.fromEntries(results),
        },
        null,
        2,
      )}\n`,
    )
    console.log(`wrote ${OUT}`)
    stopping = true
    await agent.close()
  } finally {
    stopping = true
    rmSync(sameHostDir, { recursive: true, force: true })
  }
}

runBench(main, children)
