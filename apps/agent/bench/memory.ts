/**
 * The agent's own memory: RSS, PSS and private, idle (no workloads) and with N replicas of a busybox
 * httpd (one Deployment, default 20), with the private memory split by mapping. The agent is started
 * `--starts` times (default 2) and measured idle each time: the first start writes its compile cache,
 * later ones start from it; the replicas run under the last start.
 *   pnpm --filter @beemesh/agent bench:memory [-- --replicas 20 --settle-seconds 20 --starts 2
 *     --bundle <another agent.mjs> --node-options="<its Node options>"]
 * The V8 heap comes from a diagnostic report (SIGUSR2). Prints a table and writes bench-results/agent-memory.json. Needs root and Podman (run it under the
 * machine's Podman lock when others share the machine).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { buildDemoImages } from "../demo/images"
import {
  api,
  freePort,
  podman,
  removePods,
  requirePrerequisites,
  startAgent,
} from "../test/e2e/support"
import { type HeapFigures, heapOf, reportFlags } from "./deploy/memory"
import { idleDeployment, providersIn } from "./idleOrders"
import { type ProcessMemory, processMemory } from "./memory/smaps"
import { agentNodeOptions } from "./nodeOptions"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    replicas: { type: "string", default: "20" },
    "settle-seconds": { type: "string", default: "20" },
    starts: { type: "string", default: "2" },
    bundle: { type: "string" },
    "node-options": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    [
      'pnpm --filter @beemesh/agent bench:memory [-- --replicas 20 --settle-seconds 20 --starts 2 --bundle <another agent.mjs> --node-options="<its Node options>"]',
      "  --replicas N          busybox httpd replicas (one Deployment) under the last start (default 20)",
      "  --settle-seconds S    wait before each measurement (default 20)",
      "  --starts N            agent starts, each measured idle; the first writes the compile cache (default 2)",
      "  --bundle <file>       another build of the agent (default: dist/agent.mjs)",
      '  --node-options="..."  the agent\'s Node options, space-separated (default: src/NodeOptions.ts)',
      "Needs root and Podman. Prints a table and writes bench-results/agent-memory.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const N = Number(args.replicas)
const SETTLE = Number(args["settle-seconds"]) * 1000
const STARTS = Number(args.starts)
const nodeOptions = agentNodeOptions(args["node-options"])
const ns = `agentmem-${process.pid}`
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/agent-memory.json")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const until = async (what: string, check: () => Promise<boolean>, timeoutMs: number) => {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

const reports = mkdtempSync(join(tmpdir(), "beemesh-agentmem-reports-"))

type Measured = ProcessMemory & { readonly heap: HeapFigures }

/**
 * Three samples 2 s apart after the settle time; the one with the median private memory, then
 * the V8 heap (the report is taken after smaps: writing it allocates).
 */
const measure = async (pid: number): Promise<Measured> => {
  await sleep(SETTLE)
  const samples: Array<ProcessMemory> = []
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(2000)
    samples.push(processMemory(pid))
  }
  const median = samples.sort((a, b) => a.privateMiB - b.privateMiB)[1]!
  return { ...median, heap: await heapOf(pid, reports) }
}

const row = (label: string, m: Measured) =>
  console.log(
    `  ${label.padEnd(24)} ${m.rssMiB.toFixed(1).padStart(8)} ${m.pssMiB.toFixed(1).padStart(8)} ${m.privateMiB.toFixed(1).padStart(9)}   ${m.heap.heapUsedMiB}/${m.heap.heapTotalMiB}`,
  )

const main = async () => {
  requirePrerequisites()
  buildDemoImages()
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-agentmem-"))
  const idle: Array<Measured> = []
  let loaded: Measured | undefined
  try {
    for (let start = 1; start <= STARTS; start++) {
      const agent = await startAgent(dataDir, await freePort(), undefined, [], {
        options: [...nodeOptions, ...reportFlags(reports)],
        ...(args.bundle === undefined ? {} : { bundle: args.bundle }),
      })
      const pid = agent.child.pid!
      try {
        idle.push(await measure(pid))
        if (start < STARTS || N === 0) continue
        const posted = await api(
          agent,
          "POST",
          "/v1/workloads",
          idleDeployment(ns, N),
          agent.token,
          600_000,
        )
        if (posted.status !== 201) throw new Error(`deploy refused: ${JSON.stringify(posted.json)}`)
        await until(
          `${N} replicas Running and registered`,
          async () => {
            const status = await api(agent, "GET", `/v1/workloads/${ns}/idle`)
            return (
              (status.json?.ready as number | undefined) === N &&
              (await providersIn(agent, ns)) >= N
            )
          },
          600_000,
        )
        loaded = await measure(pid)
      } finally {
        await api(
          agent,
          "DELETE",
          `/v1/workloads/${ns}/idle`,
          undefined,
          agent.token,
          600_000,
        ).catch(() => undefined)
        await agent.stop()
      }
    }
  } finally {
    // The agent leaves its pods running when it stops: a failed run must not leave them behind.
    await removePods(
      podman("pod", "ps", "-q", "--filter", `name=bm-${ns}-`).split("\n").filter(Boolean),
    )
    await rm(dataDir, { recursive: true, force: true })
    await rm(reports, { recursive: true, force: true })
  }
  console.log(`\nagent memory (MiB), node ${nodeOptions.join(" ")}`)
  console.log("  state                         RSS      PSS   private   V8 heap used/committed")
  for (const [i, m] of idle.entries()) row(`idle, start ${i + 1}`, m)
  if (loaded !== undefined) row(`${N} replicas`, loaded)
  const show = (title: string, m: ProcessMemory) => {
    console.log(`\n${title}: private by mapping (MiB)`)
    for (const { mapping, privateMiB } of m.byMapping.slice(0, 12))
      console.log(`  ${privateMiB.toFixed(1).padStart(6)}  ${mapping}`)
    console.log(`${title}: RSS by mapping (MiB)`)
    for (const { mapping, rssMiB } of m.rssByMapping.slice(0, 12))
      console.log(`  ${rssMiB.toFixed(1).padStart(6)}  ${mapping}`)
  }
  show(`idle, start ${idle.length}`, idle[idle.length - 1]!)
  if (loaded !== undefined) show(`${N} replicas`, loaded)
  mkdirSync(dirname(OUT), { recursive: true })
  writeFileSync(
    OUT,
    `${JSON.stringify({ replicas: N, nodeOptions, bundle: args.bundle, idle, loaded }, null, 2)}\n`,
  )
  console.log(`\nwrote ${OUT}`)
}

await main()
