/**
 * Sidecar footprint: image size, and the resident memory of a sidecar process idle and while it
 * carries 100 concurrent connections; so that memory is not bought with the data plane, also CPU
 * per round trip under that load, bulk throughput (CPU per MiB) and new connections per second
 * through the same path. The sidecars run as the image runs them: the proxy's V8 flags and the
 * bundle's compile cache. Baselines in the same run: the Node runtime alone (image rootfs size; an
 * idle `node` process) and a minimal Node TCP forwarder (net.pipe) carrying the same 100
 * connections. Everything runs on 127.0.0.1. Writes bench-results/memory.json.
 * Sidecars get the image's glibc tunables (image/malloc.ts); BENCH_GLIBC_TUNABLES overrides them
 * ("" for glibc's defaults).
 *   pnpm --filter @beemesh/sidecar bench [-- --skip-image]
 *
 * Topology: client ─tcp→ sidecar A (upstream) ═libp2p═▶ sidecar B (service) ─tcp→ echo server.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { connect, createServer, type Server, type Socket } from "node:net"
import { join } from "node:path"
import { buildSidecarImage, NODE_BINARY } from "../image/build"
import { BUNDLE_PATH, bundleSidecar, PACKAGE_DIR } from "../image/bundle"
import { writeCompileCache } from "../image/compileCache"
import { SIDECAR_NODE_FLAGS } from "../src/NodeFlags"
import { accepting, freePort, waitFor } from "../test/support/net"
import { startStandInAgent } from "../test/support/StandInAgent"
import { runBench } from "./run"
import { startSidecarPair } from "./sidecarPair"

const CONNECTIONS = 100
const LOAD_SECONDS = 5
const MESSAGE = Buffer.alloc(1024, 7)
const BULK_MIB = 64
const NEW_CONN_SECONDS = 3
const NEW_CONN_PARALLEL = 10

const rssKiB = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))
  return Number(line?.split(/\s+/)[1] ?? Number.NaN)
}
/**
 * Proportional set size (shared pages split among the processes that map them: what one more
 * sidecar really costs when many run) and private memory (pages no other process maps), KiB.
 */
const smapsKiB = (pid: number) => {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0)
  return { pss: kib("Pss"), private: kib("Private_Clean") + kib("Private_Dirty") }
}
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10

const children: Array<ChildProcess> = []
const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = spawn(NODE_BINARY, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", process.env.BENCH_DEBUG ? "inherit" : "ignore", "pipe"],
  })
  let stderr = ""
  child.stderr?.on("data", (d) => {
    stderr += String(d)
    if (process.env.BENCH_DEBUG) process.stderr.write(d)
  })
  child.on("exit", (code) => {
    if (code !== 0 && code !== null)
      console.error(`child ${args.join(" ")} exited ${code}:\n${stderr}`)
  })
  children.push(child)
  return child
}

const listen = (server: Server, port = 0) =>
  new Promise<number>((resolve) =>
    server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  )

/** CPU time (user + system) of the processes so far, ms, all of them together. */
const cpuMs = (pids: ReadonlyArray<number>): number =>
  pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return sum + (Number(fields[11]) + Number(fields[12])) * 10
  }, 0)

/**
 * 100 connections, each doing 1 KiB echo round trips back to back for LOAD_SECONDS; peak RSS of
 * the pids, and their CPU (all of them) per round trip.
 */
const load = async (port: number, pids: ReadonlyArray<number>) => {
  const cpuBefore = cpuMs(pids)
  const peaks = pids.map(() => 0)
  const pssPeaks = pids.map(() => 0)
  const privatePeaks = pids.map(() => 0)
  const sampler = setInterval(() => {
    for (const [i, pid] of pids.entries()) {
      peaks[i] = Math.max(peaks[i]!, rssKiB(pid))
      const smaps = smapsKiB(pid)
      pssPeaks[i] = Math.max(pssPeaks[i]!, smaps.pss)
      privatePeaks[i] = Math.max(privatePeaks[i]!, smaps.private)
    }
  }, 100)
  let roundTrips = 0
  let failed = 0
  const stopAt = Date.now() + LOAD_SECONDS * 1000
  const sockets: Array<Socket> = []
  await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<void>((resolve) => {
          const s = connect(port, "127.0.0.1")
          sockets.push(s)
          let got = 0
          // A connection the proxy refuses or resets (a machine too busy for its dial timeout)
          // is counted and reported, not fatal: the memory figures stay meaningful.
          s.on("error", () => {})
          s.on("close", () => {
            if (Date.now() < stopAt) failed++
            resolve()
          })
          s.on("connect", () => s.write(MESSAGE))
          s.on("data", (d) => {
            got += d.length
            if (got < MESSAGE.length) return
            got -= MESSAGE.length
            roundTrips++
            if (Date.now() < stopAt) s.write(MESSAGE)
            else resolve()
          })
        }),
    ),
  )
  clearInterval(sampler)
  const cpu = cpuMs(pids) - cpuBefore
  for (const s of sockets) s.destroy()
  const cpuUsPerRoundTrip = roundTrips === 0 ? Number.NaN : (cpu * 1000) / roundTrips
  return { peaks, pssPeaks, privatePeaks, roundTrips, failed, cpuUsPerRoundTrip }
}

/** One connection echoes BULK_MIB through; MiB/s both ways and CPU of `pids` per MiB carried. */
const bulk = async (port: number, pids: ReadonlyArray<number>) => {
  const total = BULK_MIB * 1024 * 1024
  const cpuBefore = cpuMs(pids)
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve, reject) => {
    const s = connect(port, "127.0.0.1")
    const chunk = Buffer.alloc(64 * 1024, 1)
    let sent = 0
    let got = 0
    const pump = () => {
      while (sent < total) {
        sent += chunk.length
        if (!s.write(chunk)) return void s.once("drain", pump)
      }
    }
    s.on("connect", pump)
    s.on("error", reject)
    s.on("data", (d) => {
      got += d.length
      if (got < total) return
      s.destroy()
      resolve()
    })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const cpu = cpuMs(pids) - cpuBefore
  return { mibPerSecond: (2 * BULK_MIB) / seconds, cpuMsPerMib: cpu / (2 * BULK_MIB) }
}

/** New connections per second, NEW_CONN_PARALLEL at a time, each one 1 KiB round trip. */
const newConnections = async (port: number) => {
  let opened = 0
  const stopAt = Date.now() + NEW_CONN_SECONDS * 1000
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const s = connect(port, "127.0.0.1")
      let got = 0
      s.on("error", reject)
      s.on("connect", () => s.write(MESSAGE))
      s.on("data", (d) => {
        got += d.length
        if (got < MESSAGE.length) return
        s.destroy()
        resolve()
      })
    })
  await Promise.all(
    Array.from({ length: NEW_CONN_PARALLEL }, async () => {
      while (Date.now() < stopAt) {
        await once()
        opened++
      }
    }),
  )
  return opened / NEW_CONN_SECONDS
}

/** Idle is measured this long after both sidecars are ready: past their first heap compaction. */
const IDLE_SETTLE_MS = 8000

const idleRss = async (pid: number) => {
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS))
  return { rss: rssKiB(pid), ...smapsKiB(pid) }
}

// `--skip-image`: no image build (it needs Podman, and rebuilds the image tag others may be using).
const SKIP_IMAGE = process.argv.includes("--skip-image")

const main = async () => {
  await bundleSidecar()
  writeCompileCache(BUNDLE_PATH, NODE_BINARY)
  let imageBytes: number | undefined
  try {
    if (!SKIP_IMAGE) imageBytes = (await buildSidecarImage()).sizeBytes
  } catch (e) {
    console.error(`image size not measured: ${e instanceof Error ? e.message : e}`)
  }
  // The baseline image content: the Node binary and the libraries it links, as node-rootfs.sh copies them.
  const libs = spawnSync("ldd", [NODE_BINARY], { encoding: "utf8" }).stdout.match(/\/\S+/g) ?? []
  const runtimeBytes = [NODE_BINARY, ...new Set(libs)].reduce(
    (sum, path) => sum + statSync(path).size,
    0,
  )

  // A connection the proxy resets (a client gone at the end of a phase) must not crash the bench.
  const echo = createServer((s) => s.on("error", () => s.destroy()).pipe(s))
  const echoPort = await listen(echo)
  const tokens = { "bench-a": "bench-token-a-0123456789", "bench-b": "bench-token-b-0123456789" }
  const agent = await startStandInAgent({ tokens })
  // Started as the image's entrypoint starts them; BENCH_GLIBC_TUNABLES (empty: glibc's defaults)
  // measures other malloc settings.
  const glibcTunables = process.env.BENCH_GLIBC_TUNABLES
  const {
    caller: a,
    provider: b,
    upstream,
  } = await startSidecarPair({
    start: (_name, argv, env) => start(argv, env),
    flags: SIDECAR_NODE_FLAGS,
    agentUrl: agent.url,
    caller: { pod: "bench-a", token: tokens["bench-a"] },
    provider: { pod: "bench-b", token: tokens["bench-b"] },
    service: "echo",
    target: echoPort,
    workload: "bench",
    ...(glibcTunables === undefined ? {} : { glibcTunables }),
  })

  const bare = start(["-e", "setInterval(() => {}, 1 << 30)"])
  const forwarderPort = await freePort()
  const forwarder = start([
    "-e",
    `const net = require("node:net"); net.createServer((c) => { const u = net.connect(${echoPort}, "127.0.0.1"); c.pipe(u).pipe(c); c.on("error", () => u.destroy()); u.on("error", () => c.destroy()) }).listen(${forwarderPort}, "127.0.0.1")`,
  ])
  await waitFor("forwarder listening", accepting(forwarderPort))

  const [idleA, idleB, idleBare, idleForwarder] = await Promise.all([
    idleRss(a.pid!),
    idleRss(b.pid!),
    idleRss(bare.pid!),
    idleRss(forwarder.pid!),
  ])
  const viaSidecars = await load(upstream, [a.pid!, b.pid!])
  const viaForwarder = await load(forwarderPort, [forwarder.pid!])
  const bulkSidecars = await bulk(upstream, [a.pid!, b.pid!])
  const bulkForwarder = await bulk(forwarderPort, [forwarder.pid!])
  const newViaSidecars = await newConnections(upstream)
  const newViaForwarder = await newConnections(forwarderPort)

  const rows = [
    {
      what: "image size (MiB)",
      sidecar: imageBytes === undefined ? "n/a" : mib(imageBytes / 1024),
      baseline: mib(runtimeBytes / 1024),
      baselineIs: "Node binary as shipped + linked libs",
    },
    {
      what: "RSS idle (MiB)",
      sidecar: mib(idleA.rss),
      baseline: mib(idleBare.rss),
      baselineIs: "idle node process",
    },
    {
      what: "PSS idle (MiB)",
      sidecar: mib(idleA.pss),
      baseline: mib(idleBare.pss),
      baselineIs: "idle node process",
    },
    {
      what: "private idle (MiB)",
      sidecar: mib(idleA.private),
      baseline: mib(idleBare.private),
      baselineIs: "idle node process",
    },
    {
      what: "RSS idle, provider side (MiB)",
      sidecar: mib(idleB.rss),
      baseline: mib(idleForwarder.rss),
      baselineIs: "idle node TCP forwarder",
    },
    {
      what: `RSS peak, ${CONNECTIONS} conns, caller side (MiB)`,
      sidecar: mib(viaSidecars.peaks[0]!),
      baseline: mib(viaForwarder.peaks[0]!),
      baselineIs: "node TCP forwarder, same load",
    },
    {
      what: `RSS peak, ${CONNECTIONS} conns, provider side (MiB)`,
      sidecar: mib(viaSidecars.peaks[1]!),
      baseline: mib(viaForwarder.peaks[0]!),
      baselineIs: "node TCP forwarder, same load",
    },
    {
      what: `PSS peak, ${CONNECTIONS} conns, caller side (MiB)`,
      sidecar: mib(viaSidecars.pssPeaks[0]!),
      baseline: mib(viaForwarder.pssPeaks[0]!),
      baselineIs: "node TCP forwarder, same load",
    },
    {
      what: `private peak, ${CONNECTIONS} conns, caller / provider side (MiB)`,
      sidecar: `${mib(viaSidecars.privatePeaks[0]!)} / ${mib(viaSidecars.privatePeaks[1]!)}`,
      baseline: mib(viaForwarder.privatePeaks[0]!),
      baselineIs: "node TCP forwarder, same load",
    },
    {
      what: `1 KiB round trips in ${LOAD_SECONDS} s (${CONNECTIONS} conns; ${viaSidecars.failed} failed)`,
      sidecar: viaSidecars.roundTrips,
      baseline: viaForwarder.roundTrips,
      baselineIs: "node TCP forwarder",
    },
    {
      what: `CPU per 1 KiB round trip, ${CONNECTIONS} conns, all proxy processes (µs)`,
      sidecar: Math.round(viaSidecars.cpuUsPerRoundTrip),
      baseline: Math.round(viaForwarder.cpuUsPerRoundTrip),
      baselineIs: "node TCP forwarder",
    },
    {
      what: `bulk echo of ${BULK_MIB} MiB, one conn (MiB/s)`,
      sidecar: Math.round(bulkSidecars.mibPerSecond),
      baseline: Math.round(bulkForwarder.mibPerSecond),
      baselineIs: "node TCP forwarder",
    },
    {
      what: "bulk CPU per MiB, all proxy processes (ms)",
      sidecar: Math.round(bulkSidecars.cpuMsPerMib * 10) / 10,
      baseline: Math.round(bulkForwarder.cpuMsPerMib * 10) / 10,
      baselineIs: "node TCP forwarder",
    },
    {
      what: `new connections/s (${NEW_CONN_PARALLEL} at a time, 1 KiB each)`,
      sidecar: Math.round(newViaSidecars),
      baseline: Math.round(newViaForwarder),
      baselineIs: "node TCP forwarder",
    },
  ]
  console.table(rows)
  const dir = join(PACKAGE_DIR, "bench-results")
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "memory.json"),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, connections: CONNECTIONS, loadSeconds: LOAD_SECONDS, rows }, null, 2)}\n`,
  )
  await agent.close()
  echo.close()
}

runBench(main, children)
