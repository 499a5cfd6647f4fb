/**
 * Density: N idle replicas of a busybox httpd (default 110, the Kubernetes per-node default pod
 * count) under the agent, next to the same N as plain Podman containers with the same slirp4netns
 * options and a published port — what a user would run instead. For each side it reports:
 *   - creation: from the request until all N answer (plain: curl on every published port; beemesh:
 *     every replica Running in the status, then every replica's sidecar registered as a provider);
 *   - at rest, over a quiet window: CPU (millicores) and PSS/RSS per role, named by process, and
 *     the host's memory in use (MemTotal − MemAvailable) against the value before creation, and
 *     by kind (/proc/meminfo: anonymous pages, slab, page tables, kernel stacks, …), whose sum
 *     ("held by processes and kernel") page-cache estimates do not move; also
 *     the whole machine's busy time (which counts short-lived processes a snapshot misses) less
 *     the machine's own idle load measured before either side ran;
 *   - API latency at density (beemesh): GET /v1/workloads and /health, p50/p99 of 200 each at
 *     rest, and while reconcile works (the scaling below), asked by a process of its own every
 *     50 ms; with the leases that lapsed (a sidecar's renewals missed for a whole lease: the
 *     agent's "lease of pod … expired" lines) from creation until the teardown;
 *   - scaling (beemesh): from N down to N/2 until the removed pods and their slirp4netns processes
 *     are gone, then back up to N until every replica is Running and registered again;
 *   - teardown: from the request until no pod, container or slirp4netns process of the run is left
 *     (and, for beemesh, no service record of its pods).
 * The two sides run one after the other (110 pods twice at once would not fit the point); the
 * machine must be otherwise quiet — the script says so when it finds other pods.
 * `--port-handler rootlesskit|slirp4netns` gives both sides that Podman port forwarder instead of
 * the agent's default (the rest of the pod network stays the agent's default); `--bundle` runs
 * another build of the agent.
 *   pnpm --filter @beemesh/agent bench:density [-- --replicas 110 --quiet-seconds 60 --skip-baseline --lease-seconds 30 --port-handler slirp4netns --bundle <another agent.mjs>]
 * Prints a table and writes bench-results/density.json.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { buildDemoImages } from "../demo/images"
import { api, freePort, podman, requirePrerequisites, run, startAgent } from "../test/e2e/support"
import { type ApiProbe, type ProbeResult, startApiProbe } from "./density/apiProbe"
import {
  costByRole,
  descendants,
  type GroupCost,
  type HostMemory,
  heldMiB,
  hostMemoryByKind,
  hostMemoryDelta,
  inUseMiB,
  machineMillicores,
  type Proc,
  processesOf,
  snapshot,
} from "./density/procs"
import { idleDeployment, providersIn } from "./idleOrders"
import { agentNodeOptions } from "./nodeOptions"
import { plainOrdersArgs } from "./plainOrders"
import { agentNetworkArgs, plainNetworkFlag, podNetwork } from "./podNetwork"

const { values: args } = parseArgs({
  // pnpm passes the `--` of `pnpm bench:density -- --replicas 5` through.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    replicas: { type: "string", default: "110" },
    "quiet-seconds": { type: "string", default: "60" },
    "settle-seconds": { type: "string", default: "30" },
    // Iterating on beemesh's own cost: the baseline does not change between runs.
    "skip-baseline": { type: "boolean", default: false },
    // The agent's registration lease (its default when absent): sidecars renew every third of it.
    "lease-seconds": { type: "string" },
    // Podman's port forwarder for both sides (default: the agent's).
    "port-handler": { type: "string" },
    // Another build of the agent (before/after comparisons in one sitting).
    bundle: { type: "string" },
    // The agent's Node options, space-separated (default: src/NodeOptions.ts); e.g. a CPU profile.
    "node-options": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    'pnpm --filter @beemesh/agent bench:density [-- --replicas 110 --quiet-seconds 60 --settle-seconds 30 --skip-baseline --lease-seconds <agent default> --port-handler rootlesskit|slirp4netns --bundle <another agent.mjs> --node-options="<its Node options>"]',
  )
  process.exit(0)
}
const N = Number(args.replicas)
const QUIET = Number(args["quiet-seconds"])
const SETTLE = Number(args["settle-seconds"])
const lease = args["lease-seconds"]
const network = podNetwork(args["port-handler"])
const ns = `density-${process.pid}`
const LABEL = `io.beemesh.test.density=${process.pid}`
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/density.json")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const percentile = (values: ReadonlyArray<number>, p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!

const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) => {
  const started = performance.now()
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
  return performance.now() - started
}

const slirpCount = () =>
  run("pgrep", ["-c", "-x", "slirp4netns"]).stdout.trim() === ""
    ? 0
    : Number(run("pgrep", ["-c", "-x", "slirp4netns"]).stdout.trim())

/**
 * CPU and memory at rest: settle, then a quiet window. Every process started since `before` is
 * counted (by `roleOf`), plus the agent, which ran before.
 */
const atRest = async (before: Map<number, Proc>, roleOf: (p: Proc) => string | undefined) => {
  await sleep(SETTLE * 1000)
  const start = snapshot()
  const machineBusy = await machineMillicores(QUIET)
  const end = snapshot()
  const roles = costByRole(start, end, QUIET, (p) =>
    before.has(p.pid) && roleOf(p)?.startsWith("agent") !== true ? undefined : roleOf(p),
  )
  const hostKinds = hostMemoryByKind()
  return { roles, machineBusy, hostUsedMiB: inUseMiB(hostKinds), hostKinds }
}

const perPod = (roles: ReadonlyArray<GroupCost>) => ({
  millicores: roles.reduce((s, r) => s + r.millicores, 0) / N,
  pssMiB: roles.reduce((s, r) => s + r.pssMiB, 0) / N,
})

const plain = async () => {
  const kindsBefore = hostMemoryByKind()
  const before = snapshot()
  const ports: Array<number> = []
  const started = performance.now()
  // What a user would script: one `podman run -d` after another. Each port is picked just before
  // its container: picked all at once, one was taken by another process in the meantime.
  for (let i = 0; i < N; i++) {
    const port = await freePort()
    ports.push(port)
    podman(
      ...plainOrdersArgs({
        name: `bm-density-${process.pid}-${i}`,
        port,
        labels: ["io.beemesh.test=1", LABEL],
        // The agent stops its containers with 2 s before SIGKILL (busybox httpd ignores SIGTERM as
        // PID 1); the baseline gets the same, or its teardown would measure Podman's 10 s default.
        stopTimeoutSeconds: 2,
        network: plainNetworkFlag(network),
      }),
    )
  }
  const pending = new Set(ports)
  await until(
    "every plain container to answer",
    () => {
      for (const port of pending) {
        const answer = run("curl", [
          "-s",
          "--max-time",
          "1",
          `http://127.0.0.1:${port}/cgi-bin/orders`,
        ])
        if (answer.stdout.includes("open orders")) pending.delete(port)
      }
      return pending.size === 0
    },
    600_000,
  )
  const creationMs = performance.now() - started
  const names = podman("ps", "-aq", "--filter", `label=${LABEL}`).split("\n").filter(Boolean)
  const ours = processesOf(sandboxes(names))
  const rest = await atRest(before, (p) => (ours.has(p.pid) ? p.comm : undefined))
  const ids = podman("ps", "-aq", "--filter", `label=${LABEL}`).split("\n").filter(Boolean)
  const down = performance.now()
  removeAll(ids)
  await until(
    "plain slirp4netns processes to exit",
    () => slirpCount() <= countIn(before, "slirp4netns"),
    600_000,
  )
  const teardownMs = performance.now() - down
  return {
    creationMs,
    ...rest,
    hostDeltaMiB: rest.hostUsedMiB - inUseMiB(kindsBefore),
    hostDeltaByKind: hostMemoryDelta(kindsBefore, rest.hostKinds),
    teardownMs,
  }
}

/** The network namespace paths of containers (each holder's, for beemesh pods). */
const sandboxes = (containers: ReadonlyArray<string>) =>
  containers.length === 0
    ? []
    : podman("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", ...containers)
        .split("\n")
        .filter(Boolean)

const countIn = (procs: Map<number, Proc>, comm: string) =>
  [...procs.values()].filter((p) => p.comm === comm).length

const podsOfRun = () =>
  podman("pod", "ps", "--format", "{{.Name}}")
    .split("\n")
    .filter((n) => n.startsWith(`bm-${ns}-`)).length

/** p50, p99 and max of a probe's samples, by path, and how many requests it made and lost. */
const probeSummary = (result: ProbeResult) =>
  Object.fromEntries(
    Object.entries(result.samples).map(([path, samples]) => [
      path,
      {
        n: samples.length,
        failed: result.failures[path] ?? 0,
        // NaN when every request failed (the count says so), not a crash when printing.
        p50: samples.length === 0 ? Number.NaN : percentile(samples, 0.5),
        p99: samples.length === 0 ? Number.NaN : percentile(samples, 0.99),
        max: samples.length === 0 ? Number.NaN : Math.max(...samples),
      },
    ]),
  )

/** The agent's log lines saying a pod's lease lapsed: its sidecar missed every renewal of it. */
const lapsedLeases = (log: string) =>
  log.split("\n").filter((line) => /lease of pod \S+ expired/.test(line))

const beemesh = async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-density-"))
  let probe: ApiProbe | undefined
  const agent = await startAgent(
    dataDir,
    await freePort(),
    undefined,
    [...agentNetworkArgs(network), ...(lease === undefined ? [] : ["--lease-seconds", lease])],
    {
      ...(args.bundle === undefined ? {} : { bundle: args.bundle }),
      options: agentNodeOptions(args["node-options"]),
    },
  )
  try {
    await sleep(2000)
    const kindsBefore = hostMemoryByKind()
    const before = snapshot()
    const agentPid = agent.child.pid!
    const allRegistered = (count: number) =>
      until(
        `${count} replicas Running and their sidecars registered`,
        async () => {
          const status = await api(agent, "GET", `/v1/workloads/${ns}/idle`)
          return (
            (status.json?.ready as number | undefined) === count &&
            (await providersIn(agent, ns)) >= count
          )
        },
        900_000,
      )
    const started = performance.now()
    // The answer comes once every replica's pod is created: give 110 of them time.
    const posted = await api(
      agent,
      "POST",
      "/v1/workloads",
      idleDeployment(ns, N),
      agent.token,
      900_000,
    )
    if (posted.status !== 201) throw new Error(`deploy refused: ${JSON.stringify(posted.json)}`)
    await until(
      "every replica Running",
      async () => {
        const status = await api(agent, "GET", `/v1/workloads/${ns}/idle`)
        return (status.json?.ready as number | undefined) === N
      },
      900_000,
    )
    const runningMs = performance.now() - started
    await allRegistered(N)
    const creationMs = performance.now() - started
    const agentTree = descendants(agentPid)
    const holders = podman("ps", "-a", "--format", "{{.Names}}")
      .split("\n")
      .filter((n) => n.startsWith(`bm-${ns}-`) && n.endsWith("-holder"))
    const ours = processesOf(sandboxes(holders))
    const rest = await atRest(before, (p) => {
      if (p.pid === agentPid) return "agent"
      if (agentTree.has(p.pid)) return `agent child (${p.comm})`
      if (!ours.has(p.pid)) return undefined
      return p.comm === "MainThread" || p.comm === "node" ? "sidecar (node)" : p.comm
    })
    const latency = async (path: string) => {
      const samples: Array<number> = []
      for (let i = 0; i < 200; i++) {
        const t = performance.now()
        await api(agent, "GET", path)
        samples.push(performance.now() - t)
      }
      return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) }
    }
    const apiLatencyMs = {
      workloads: await latency("/v1/workloads"),
      health: await latency("/health"),
    }
    // Scaling: down to half, until the removed pods and their slirp4netns are gone and their
    // records withdrawn; then back up, until every replica is Running and registered again.
    const half = Math.floor(N / 2)
    probe = startApiProbe(agent.url, agent.token, ["/v1/workloads", "/health"])
    const scaleDownStarted = performance.now()
    const scaledDown = await api(
      agent,
      "POST",
      "/v1/workloads",
      idleDeployment(ns, half),
      agent.token,
      900_000,
    )
    if (scaledDown.status !== 201)
      throw new Error(`scale down refused: ${JSON.stringify(scaledDown.json)}`)
    await until(
      `only ${half} pods left`,
      async () =>
        podsOfRun() === half &&
        slirpCount() <= countIn(before, "slirp4netns") + half &&
        (await providersIn(agent, ns)) <= half,
      900_000,
    )
    const scaleDownMs = performance.now() - scaleDownStarted
    const scaleUpStarted = performance.now()
    const scaledUp = await api(
      agent,
      "POST",
      "/v1/workloads",
      idleDeployment(ns, N),
      agent.token,
      900_000,
    )
    if (scaledUp.status !== 201)
      throw new Error(`scale up refused: ${JSON.stringify(scaledUp.json)}`)
    await allRegistered(N)
    const scaleUpMs = performance.now() - scaleUpStarted
    const whileScaling = probeSummary(await probe.stop())
    probe = undefined
    const lapsed = lapsedLeases(agent.logs())
    // Said now: a teardown that fails below must not take the scaling's figures with it.
    console.log(
      `scaling done (down ${(scaleDownMs / 1000).toFixed(1)} s, up ${(scaleUpMs / 1000).toFixed(1)} s; leases lapsed so far: ${lapsed.length}); API while scaling: ${JSON.stringify(whileScaling)}`,
    )
    const down = performance.now()
    const deleted = await api(
      agent,
      "DELETE",
      `/v1/workloads/${ns}/idle`,
      undefined,
      agent.token,
      900_000,
    )
    if (deleted.status >= 300) throw new Error(`delete failed: ${JSON.stringify(deleted.json)}`)
    const deleteAnsweredMs = performance.now() - down
    await until(
      "every pod, slirp4netns and service record of the run to be gone",
      async () =>
        podsOfRun() === 0 &&
        slirpCount() <= countIn(before, "slirp4netns") &&
        (await providersIn(agent, ns)) === 0,
      900_000,
    )
    const teardownMs = performance.now() - down
    // The agent's own account (its teardown says where the time went), kept with the figures.
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(join(dirname(OUT), "density-agent.log"), agent.logs())
    return {
      runningMs,
      creationMs,
      ...rest,
      hostDeltaMiB: rest.hostUsedMiB - inUseMiB(kindsBefore),
      hostDeltaByKind: hostMemoryDelta(kindsBefore, rest.hostKinds),
      apiLatencyMs,
      apiWhileScalingMs: whileScaling,
      lapsedLeases: lapsed.length,
      lapsedLeaseLines: lapsed.slice(0, 10),
      scaleDownMs,
      scaleUpMs,
      deleteAnsweredMs,
      teardownMs,
    }
  } catch (error) {
    // The agent's own account of a failed run: it says which replicas did what.
    const logFile = join(dirname(OUT), "density-agent.log")
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(logFile, agent.logs())
    console.error(`the agent's log: ${logFile}`)
    throw error
  } finally {
    await probe?.stop().catch(() => undefined)
    await api(agent, "DELETE", `/v1/workloads/${ns}/idle`, undefined, agent.token, 900_000).catch(
      () => undefined,
    )
    await agent.stop()
    // The agent leaves its pods running when it stops (they outlive restarts): a failed run must
    // not leave a hundred of them behind.
    removePods(podman("pod", "ps", "-q", "--filter", `name=bm-${ns}-`).split("\n").filter(Boolean))
    await rm(dataDir, { recursive: true, force: true })
  }
}

const table = (title: string, roles: ReadonlyArray<GroupCost>) => {
  console.log(`\n${title}\n  role                         procs   millicores   PSS MiB   RSS MiB`)
  for (const r of roles)
    console.log(
      `  ${r.role.padEnd(28)} ${String(r.processes).padStart(5)} ${r.millicores.toFixed(1).padStart(12)} ${r.pssMiB.toFixed(1).padStart(9)} ${r.rssMiB.toFixed(1).padStart(9)}`,
    )
}

/** Host memory in use per pod, by kind (hostMemoryByKind), for the sides given. */
const kindsTable = (sides: ReadonlyArray<readonly [string, HostMemory]>) => {
  console.log(
    `\nhost memory in use per pod, by kind (MiB)${sides.map(([n]) => n.padStart(14)).join("")}`,
  )
  for (const kind of Object.keys(sides[0]?.[1] ?? {}) as Array<keyof HostMemory>)
    console.log(
      `  ${kind.padEnd(39)}${sides.map(([, k]) => (k[kind] / N).toFixed(2).padStart(14)).join("")}`,
    )
}

const main = async () => {
  requirePrerequisites()
  console.log(`pod network, both sides: ${plainNetworkFlag(network)}`)
  buildDemoImages()
  const others =
    podman("pod", "ps", "-q").split("\n").filter(Boolean).length +
    podman("ps", "-q").split("\n").filter(Boolean).length
  if (others > 0)
    console.warn(
      `warning: ${others} pods/containers already run here; the figures include their noise`,
    )
  // The machine's own idle load, subtracted from the busy time at rest of each side.
  const idleMachine = await machineMillicores(Math.min(QUIET, 20))
  // Beemesh first: on a shared machine the side that matters gets the quieter minutes.
  const meshResult = await beemesh()
  // Kept at once: a failure of the baseline must not lose the side that took minutes.
  mkdirSync(dirname(OUT), { recursive: true })
  writeFileSync(OUT, `${JSON.stringify({ replicas: N, network, beemesh: meshResult }, null, 2)}\n`)
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  const scaling = () =>
    console.log(
      `  scale ${N} → ${Math.floor(N / 2)} (gone) / → ${N} (registered)               ${s(meshResult.scaleDownMs).padStart(11)} / ${s(meshResult.scaleUpMs)}`,
    )
  const apiLines = () => {
    const atRest = meshResult.apiLatencyMs
    console.log(
      `  API at rest p50/p99 (ms): GET /v1/workloads ${atRest.workloads.p50.toFixed(1)}/${atRest.workloads.p99.toFixed(1)}, GET /health ${atRest.health.p50.toFixed(1)}/${atRest.health.p99.toFixed(1)}`,
    )
    const whileScaling = Object.entries(meshResult.apiWhileScalingMs)
      .map(
        ([path, r]) =>
          `GET ${path} ${r.p50.toFixed(1)}/${r.p99.toFixed(1)}/${r.max.toFixed(1)} (${r.n} asked, ${r.failed} failed)`,
      )
      .join(", ")
    console.log(`  API while scaling p50/p99/max (ms): ${whileScaling}`)
    console.log(
      `  leases lapsed (renewals missed) from creation to teardown: ${meshResult.lapsedLeases}${meshResult.lapsedLeases === 0 ? "" : `: ${meshResult.lapsedLeaseLines.join(" | ")}`}`,
    )
  }
  if (args["skip-baseline"]) {
    console.log(`\nDensity, ${N} idle replicas (beemesh only)`)
    console.log(
      `  creation → all answering                      ${s(meshResult.creationMs).padStart(11)}`,
    )
    scaling()
    console.log(
      `  teardown → nothing left                       ${s(meshResult.teardownMs).padStart(11)}   (DELETE answered: ${s(meshResult.deleteAnsweredMs)})`,
    )
    apiLines()
    table(`beemesh, ${N} idle replicas, at rest (quiet window ${QUIET} s)`, meshResult.roles)
    const mp = perPod(meshResult.roles)
    console.log(
      `  per pod: ${mp.millicores.toFixed(2)} mc (processes counted), machine ${((meshResult.machineBusy - idleMachine) / N).toFixed(2)} mc less idle, PSS ${mp.pssMiB.toFixed(1)} MiB, host memory in use ${(meshResult.hostDeltaMiB / N).toFixed(1)} MiB (held by processes and kernel ${(heldMiB(meshResult.hostDeltaByKind) / N).toFixed(1)})`,
    )
    kindsTable([["beemesh", meshResult.hostDeltaByKind]])
    writeFileSync(
      OUT,
      `${JSON.stringify({ replicas: N, quietSeconds: QUIET, leaseSeconds: lease, network, idleMachineMillicores: idleMachine, beemesh: meshResult }, null, 2)}\n`,
    )
    console.log(`\nwrote ${OUT}`)
    return
  }
  const plainResult = await plain()
  console.log(
    `\nDensity, ${N} idle replicas (quiet window ${QUIET} s)      plain podman     beemesh`,
  )
  console.log(
    `  creation → all answering                      ${s(plainResult.creationMs).padStart(12)} ${s(meshResult.creationMs).padStart(11)}   (beemesh all Running: ${s(meshResult.runningMs)})`,
  )
  const machine = (busy: number) => `${((busy - idleMachine) / N).toFixed(2)}`
  const pp = perPod(plainResult.roles)
  const mp = perPod(meshResult.roles)
  console.log(
    `  CPU per pod at rest, processes counted (mc)   ${pp.millicores.toFixed(2).padStart(12)} ${mp.millicores.toFixed(2).padStart(11)}`,
  )
  console.log(
    `  machine CPU per pod at rest, less idle (mc)   ${machine(plainResult.machineBusy).padStart(12)} ${machine(meshResult.machineBusy).padStart(11)}`,
  )
  console.log(
    `  PSS per pod, processes counted (MiB)          ${pp.pssMiB.toFixed(1).padStart(12)} ${mp.pssMiB.toFixed(1).padStart(11)}`,
  )
  console.log(
    `  host memory in use per pod (MiB)              ${(plainResult.hostDeltaMiB / N).toFixed(1).padStart(12)} ${(meshResult.hostDeltaMiB / N).toFixed(1).padStart(11)}`,
  )
  console.log(
    `  held by processes and kernel (MiB)            ${(heldMiB(plainResult.hostDeltaByKind) / N).toFixed(1).padStart(12)} ${(heldMiB(meshResult.hostDeltaByKind) / N).toFixed(1).padStart(11)}`,
  )
  console.log(
    `  teardown → nothing left                       ${s(plainResult.teardownMs).padStart(12)} ${s(meshResult.teardownMs).padStart(11)}   (DELETE answered: ${s(meshResult.deleteAnsweredMs)})`,
  )
  scaling()
  apiLines()
  table("plain podman, at rest", plainResult.roles)
  table("beemesh, at rest", meshResult.roles)
  kindsTable([
    ["plain podman", plainResult.hostDeltaByKind],
    ["beemesh", meshResult.hostDeltaByKind],
  ])
  mkdirSync(dirname(OUT), { recursive: true })
  writeFileSync(
    OUT,
    `${JSON.stringify({ replicas: N, quietSeconds: QUIET, network, idleMachineMillicores: idleMachine, plain: plainResult, beemesh: meshResult }, null, 2)}\n`,
  )
  console.log(`\nwrote ${OUT}`)
}

/** `podman rm -f` of many containers: one command, as a user would, with time for 110 of them. */
function removeAll(ids: ReadonlyArray<string>) {
  if (ids.length === 0) return
  const result = spawnSync("podman", ["rm", "-f", ...ids], { encoding: "utf8", timeout: 900_000 })
  if (result.error !== undefined) throw result.error
  if (result.status !== 0) throw new Error(`podman rm -f failed: ${result.stderr}`)
}

function removePods(ids: ReadonlyArray<string>) {
  if (ids.length === 0) return
  const result = spawnSync("podman", ["pod", "rm", "-f", "-t", "0", ...ids], {
    encoding: "utf8",
    timeout: 900_000,
  })
  if (result.error !== undefined) throw result.error
}

const cleanup = () =>
  removeAll(
    run("podman", ["ps", "-aq", "--filter", `label=${LABEL}`])
      .stdout.split("\n")
      .filter(Boolean),
  )
try {
  await main()
} catch (error) {
  // Said before the clean-up, which can take minutes and fail on its own.
  console.error(error)
  process.exitCode = 1
} finally {
  cleanup()
}
