/**
 * Removes what simulated-host runs left behind: every run directory under the base directory and
 * every network namespace with the harness's prefix. Processes are found by PID file and by the
 * namespace they live in, pods by each host's own store, mounts by their place under the run dir.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { must, run } from "./exec"
import { hostAgentPaths, stopHostAgent } from "./HostAgent"
import { hostPodmanPaths, removeAllPods, stopHostPodman } from "./HostPodman"
import { sweepHostUser } from "./HostUser"
import { deleteNetns, netnsPath } from "./Network"
import { isAlive, pidsInNetns, stopPid } from "./processes"

export const NETNS_PREFIX = "bmh-"
export const DEFAULT_BASE_DIR = "/var/tmp/beemesh-hosts"

export interface RunRecord {
  readonly runId: string
  /** The process that created the run; a run whose owner is gone is a leftover (unless kept). */
  readonly ownerPid: number
  /** Kept on purpose after its owner exits (the demo); only an explicit sweep removes it. */
  readonly keep: boolean
  readonly switchNetns: string
  /** Namespaces of NAT routers, removed after the hosts behind them. */
  readonly routers?: ReadonlyArray<string>
  readonly hosts: ReadonlyArray<{
    readonly name: string
    readonly netns: string
    readonly dir: string
  }>
}

export const runFile = (runDir: string) => join(runDir, "run.json")

export const readRun = (runDir: string): RunRecord | undefined => {
  try {
    return JSON.parse(readFileSync(runFile(runDir), "utf8")) as RunRecord
  } catch {
    return undefined
  }
}

const mountsUnder = (dir: string) =>
  readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((point): point is string => point?.startsWith(`${dir}/`) === true)
    .sort((a, b) => b.length - a.length)

/** Stops one host and removes everything it holds except its directory. */
export const sweepHost = async (host: RunRecord["hosts"][number]) => {
  await stopHostAgent(hostAgentPaths(host.dir), 0)
  const podman = hostPodmanPaths(host.dir)
  if (existsSync(podman.root)) await removeAllPods(podman).catch(() => false)
  await stopHostPodman(podman)
  await sweepHostUser(host.dir)
  for (const pid of pidsInNetns(netnsPath(host.netns))) await stopPid(pid, 0)
  for (const point of mountsUnder(host.dir)) await run(["umount", "-l", point])
  await deleteNetns(host.netns)
}

/** Removes a whole run: its hosts, switch namespace and directory. */
export const sweepRun = async (runDir: string) => {
  const record = readRun(runDir)
  if (record !== undefined) {
    await Promise.all(record.hosts.map(sweepHost))
    for (const router of record.routers ?? []) {
      for (const pid of pidsInNetns(netnsPath(router))) await stopPid(pid, 0)
      await deleteNetns(router)
    }
    for (const pid of pidsInNetns(netnsPath(record.switchNetns))) await stopPid(pid, 0)
    await deleteNetns(record.switchNetns)
  }
  for (const point of mountsUnder(runDir)) await run(["umount", "-l", point])
  rmSync(runDir, { recursive: true, force: true })
}

/**
 * A run directory younger than this without a readable record is one being created (its record
 * comes right after the directory): not a leftover yet.
 */
export const RECORDLESS_GRACE_MS = 60_000

/**
 * Whether a run is another's to keep: kept on purpose, or its owner (another process) still runs.
 * Without a record, whether its directory is younger than `RECORDLESS_GRACE_MS`.
 */
export const isOwnedRun = (
  record: RunRecord | undefined,
  dirAgeMs: number,
  isOwnerAlive: (pid: number) => boolean,
  self = process.pid,
) =>
  record === undefined
    ? dirAgeMs < RECORDLESS_GRACE_MS
    : record.keep || (record.ownerPid !== self && isOwnerAlive(record.ownerPid))

const ageOf = (dir: string) => {
  try {
    return Date.now() - statSync(dir).mtimeMs
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

export interface SweepOptions {
  readonly baseDir?: string
  /** Also remove runs whose owner still lives or that are kept (default: only leftovers). */
  readonly all?: boolean
  /** Run ids never to touch. */
  readonly except?: ReadonlyArray<string>
}

/** Sweeps leftover runs and orphaned prefixed namespaces; returns what it removed. */
export const sweep = async (options: SweepOptions = {}) => {
  const baseDir = options.baseDir ?? DEFAULT_BASE_DIR
  const except = new Set(options.except ?? [])
  const removed: Array<string> = []
  const live = new Set<string>()
  for (const runId of existsSync(baseDir) ? readdirSync(baseDir) : []) {
    const runDir = join(baseDir, runId)
    const record = readRun(runDir)
    const owned =
      except.has(runId) || (options.all !== true && isOwnedRun(record, ageOf(runDir), isAlive))
    if (owned) {
      live.add(`${NETNS_PREFIX}${runId}-`)
      continue
    }
    await sweepRun(runDir)
    removed.push(runDir)
  }
  const namespaces = (await must(["ip", "netns", "list"]))
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(NETNS_PREFIX))
  for (const name of namespaces) {
    if ([...live].some((prefix) => name.startsWith(prefix))) continue
    for (const pid of pidsInNetns(netnsPath(name))) await stopPid(pid, 0)
    await deleteNetns(name)
    removed.push(`netns ${name}`)
  }
  return removed
}
