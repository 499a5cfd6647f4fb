/**
 * Idle sidecars over time: private memory, PSS and CPU of sidecars that carry nothing, sampled for
 * minutes, side by side, so that builds compare under the same load (the bench's idle figure is
 * taken 8 s after ready, the low end of an idle sidecar's curve).
 *
 *   pnpm --filter @beemesh/sidecar bench:idle [-- --minutes 10 --every 30 --bundle DIR ...]
 *
 * Each `--bundle DIR` (a directory holding `sidecar.mjs` and its `compile-cache`, as `build`
 * writes them into dist/; copy one away to compare builds) runs one sidecar, started as the image
 * starts it (SIDECAR_NODE_FLAGS, the compile cache, the image's glibc tunables), registered with one
 * stand-in agent (30 s lease, renewed every 10 s), with a service and an upstream. Default: this
 * package's dist/, built first. Writes bench-results/idle.json.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { NODE_BINARY } from "../image/build"
import { BUNDLE_PATH, bundleSidecar, PACKAGE_DIR } from "../image/bundle"
import { compileCacheEnvironment, writeCompileCache } from "../image/compileCache"
import { SIDECAR_GLIBC_TUNABLES } from "../image/malloc"
import { SIDECAR_NODE_FLAGS } from "../src/NodeFlags"
import { freePort, waitFor } from "../test/support/net"
import { startStandInAgent } from "../test/support/StandInAgent"
import { runBench } from "./run"

const { values } = parseArgs({
  // pnpm passes its `--` on.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    minutes: { type: "string", default: "10" },
    every: { type: "string", default: "30" },
    bundle: { type: "string", multiple: true },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (values.help) {
  console.log(
    [
      "pnpm --filter @beemesh/sidecar bench:idle [-- --minutes 10 --every 30 --bundle DIR ...]",
      "  --minutes M    how long the idle sidecars are sampled (default 10)",
      "  --every S      seconds between samples (default 30)",
      "  --bundle DIR   a directory holding sidecar.mjs and its compile-cache; one sidecar per --bundle",
      "                 (repeatable; default: this package's dist/, built first)",
      "  BENCH_DEBUG=1  (environment) shows the sidecars' output",
      "Writes bench-results/idle.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const MINUTES = Number(values.minutes)
const EVERY_S = Number(values.every)
if (!(MINUTES > 0) || !(EVERY_S > 0))
  throw new Error(
    `--minutes and --every take positive numbers (got ${values.minutes}, ${values.every})`,
  )

/** Private memory (pages no other process maps) and PSS, KiB, from smaps_rollup. */
const smapsKiB = (pid: number) => {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0)
  return { pss: kib("Pss"), private: kib("Private_Clean") + kib("Private_Dirty") }
}

/** CPU time (user + system) of a process so far, ms. */
const cpuMs = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10

/** Private KiB by kind of mapping: glibc's `[heap]`, anonymous (V8's heap, large mallocs), files. */
const privateByKind = (pid: number) => {
  const kinds = { heap: 0, anon: 0, file: 0 }
  let kind: keyof typeof kinds = "anon"
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (header !== null) {
      const name = header[1] ?? ""
      kind = name === "[heap]" ? "heap" : name.startsWith("/") ? "file" : "anon"
      continue
    }
    const field = /^Private_(?:Clean|Dirty):\s+(\d+)/.exec(line)
    if (field !== null) kinds[kind] += Number(field[1])
  }
  return kinds
}

const children: Array<ChildProcess> = []

const main = async () => {
  let dirs = (values.bundle ?? []).map((d) => resolve(d))
  if (dirs.length === 0) {
    await bundleSidecar()
    writeCompileCache(BUNDLE_PATH, NODE_BINARY)
    dirs = [join(PACKAGE_DIR, "dist")]
  }
  const tokens = Object.fromEntries(dirs.map((_, i) => [`idle-${i}`, `idle-token-${i}-0123456789`]))
  const agent = await startStandInAgent({ tokens })
  const sidecars: Array<{ dir: string; child: ChildProcess; health: number }> = []
  for (const [i, dir] of dirs.entries()) {
    const bundle = join(dir, "sidecar.mjs")
    const [lib, health, upstream, app] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ]
    const child = spawn(NODE_BINARY, [...SIDECAR_NODE_FLAGS, bundle], {
      env: {
        ...process.env,
        GLIBC_TUNABLES: SIDECAR_GLIBC_TUNABLES,
        ...compileCacheEnvironment(bundle),
        BEEMESH_NAMESPACE: "idle",
        BEEMESH_WORKLOAD: "idle",
        BEEMESH_AGENT_URL: agent.url,
        BEEMESH_POD: `idle-${i}`,
        BEEMESH_POD_TOKEN: tokens[`idle-${i}`]!,
        BEEMESH_SERVICES: `web=${app}`,
        BEEMESH_UPSTREAMS: `web=${upstream}`,
        BEEMESH_LISTEN_PORT: String(lib),
        BEEMESH_HEALTH_PORT: String(health),
        BEEMESH_ADVERTISE: `/ip4/127.0.0.1/tcp/${lib}`,
      },
      stdio: process.env.BENCH_DEBUG ? ["ignore", "inherit", "inherit"] : "ignore",
    })
    children.push(child)
    sidecars.push({ dir, child, health })
  }
  for (const s of sidecars)
    await waitFor(
      `sidecar of ${s.dir} ready`,
      () =>
        fetch(`http://127.0.0.1:${s.health}/readyz`).then(
          (r) => (r.ok ? true : undefined),
          () => undefined,
        ),
      30_000,
    )
  const readyAt = Date.now()
  const cpuAtReady = sidecars.map((s) => cpuMs(s.child.pid!))
  const samples: Array<{
    seconds: number
    private: Array<number>
    pss: Array<number>
    glibcHeap: Array<number>
    anonymous: Array<number>
  }> = []
  const sample = () => {
    const seconds = Math.round((Date.now() - readyAt) / 1000)
    const now = sidecars.map((s) => ({ ...smapsKiB(s.child.pid!), ...privateByKind(s.child.pid!) }))
    samples.push({
      seconds,
      private: now.map((m) => mib(m.private)),
      pss: now.map((m) => mib(m.pss)),
      glibcHeap: now.map((m) => mib(m.heap)),
      anonymous: now.map((m) => mib(m.anon)),
    })
    const column = (f: (m: (typeof now)[number]) => number) =>
      now.map((m) => mib(f(m)).toFixed(1)).join(" / ")
    console.log(
      `${String(seconds).padStart(5)} s  private ${column((m) => m.private)}  PSS ${column((m) => m.pss)}  [heap] ${column((m) => m.heap)}  anonymous ${column((m) => m.anon)} MiB`,
    )
  }
  await new Promise((r) => setTimeout(r, 8_000))
  sample()
  const endAt = readyAt + MINUTES * 60_000
  while (Date.now() < endAt) {
    await new Promise((r) => setTimeout(r, Math.min(EVERY_S * 1000, endAt - Date.now())))
    sample()
  }
  const seconds = (Date.now() - readyAt) / 1000
  const millicores = sidecars.map(
    (s, i) => Math.round(((cpuMs(s.child.pid!) - cpuAtReady[i]!) / seconds) * 100) / 100,
  )
  console.log(`CPU since ready (millicores): ${millicores.join(" / ")}  (${dirs.join(" / ")})`)
  const out = join(PACKAGE_DIR, "bench-results")
  mkdirSync(out, { recursive: true })
  writeFileSync(
    join(out, "idle.json"),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, bundles: dirs, millicores, samples }, null, 2)}\n`,
  )
  await agent.close()
}

runBench(main, children)
