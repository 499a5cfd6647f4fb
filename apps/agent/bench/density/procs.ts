/**
 * Per-process CPU and memory read from /proc, grouped by role: what an idle pod costs the host.
 * CPU is utime+stime in clock ticks (USER_HZ, 100 on Linux) between two snapshots; memory is PSS
 * (shared pages divided among their users, so a sum over processes is honest) next to RSS.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs"

const TICKS_PER_SECOND = 100

export interface Proc {
  readonly pid: number
  readonly comm: string
  readonly uid: number
  readonly ticks: number
  readonly rssKiB: number
  readonly pssKiB: number
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

const proc = (pid: number): Proc | undefined => {
  const stat = read(`/proc/${pid}/stat`)
  const status = read(`/proc/${pid}/status`)
  if (stat === undefined || status === undefined) return undefined
  // comm is in parentheses and may contain spaces; the fields after the last ')' are fixed.
  const close = stat.lastIndexOf(")")
  const comm = stat.slice(stat.indexOf("(") + 1, close)
  const fields = stat.slice(close + 2).split(" ")
  const ticks = Number(fields[11]) + Number(fields[12])
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1)
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0)
  const pssKiB = Number(/^Pss:\s+(\d+)/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? "")?.[1] ?? 0)
  return { pid, comm, uid, ticks, rssKiB, pssKiB }
}

export const snapshot = (): Map<number, Proc> => {
  const all = new Map<number, Proc>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const p = proc(Number(entry))
    if (p !== undefined) all.set(p.pid, p)
  }
  return all
}

const meminfo = () => {
  const text = readFileSync("/proc/meminfo", "utf8")
  return (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0) / 1024
}

/**
 * The kinds of memory behind "in use", MiB (/proc/meminfo): processes' anonymous pages, tmpfs and
 * shared memory, the kernel's unreclaimable slab, page tables, kernel stacks and per-CPU areas;
 * `other` is what in use holds beyond them (page cache the kernel counts as not available, …).
 */
export const hostMemoryByKind = () => {
  const mib = meminfo()
  const kinds = {
    anon: mib("AnonPages"),
    shmem: mib("Shmem"),
    slabUnreclaimable: mib("SUnreclaim"),
    pageTables: mib("PageTables"),
    kernelStacks: mib("KernelStack"),
    percpu: mib("Percpu"),
  }
  const inUse = mib("MemTotal") - mib("MemAvailable")
  return { ...kinds, other: inUse - Object.values(kinds).reduce((a, b) => a + b, 0) }
}

export type HostMemory = ReturnType<typeof hostMemoryByKind>

/** Host memory in use (MemTotal − MemAvailable): every kind, `other` included. */
export const inUseMiB = (kinds: HostMemory) =>
  Object.values(kinds).reduce((sum, mib) => sum + mib, 0)

/**
 * What processes and the kernel hold (every kind but `other`): unlike MemAvailable, not moved by
 * the kernel's estimate of reclaimable page cache, which can swing by hundreds of MiB between
 * two readings when files were written just before (a build, an image).
 */
export const heldMiB = (kinds: HostMemory) => inUseMiB(kinds) - kinds.other

/** `after − before`, kind by kind. */
export const hostMemoryDelta = (before: HostMemory, after: HostMemory): HostMemory =>
  Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - before[k as keyof HostMemory]]),
  ) as HostMemory

export interface GroupCost {
  readonly role: string
  readonly processes: number
  /** Millicores over the window, all processes of the role together. */
  readonly millicores: number
  readonly pssMiB: number
  readonly rssMiB: number
}

/**
 * CPU between `before` and `after` and memory at `after`, for the processes `roleOf` names (others
 * are not counted). A process present only in `after` counts from zero: it started in the window.
 */
export const costByRole = (
  before: Map<number, Proc>,
  after: Map<number, Proc>,
  seconds: number,
  roleOf: (p: Proc) => string | undefined,
): ReadonlyArray<GroupCost> => {
  const groups = new Map<string, { processes: number; ticks: number; pss: number; rss: number }>()
  for (const p of after.values()) {
    const role = roleOf(p)
    if (role === undefined) continue
    const g = groups.get(role) ?? { processes: 0, ticks: 0, pss: 0, rss: 0 }
    g.processes++
    g.ticks += p.ticks - (before.get(p.pid)?.ticks ?? 0)
    g.pss += p.pssKiB
    g.rss += p.rssKiB
    groups.set(role, g)
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([role, g]) => ({
      role,
      processes: g.processes,
      millicores: (g.ticks / TICKS_PER_SECOND / seconds) * 1000,
      pssMiB: g.pss / 1024,
      rssMiB: g.rss / 1024,
    }))
}

/** The PIDs of `root` and all its descendants. */
export const descendants = (root: number): Set<number> => {
  const children = new Map<number, Array<number>>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const stat = read(`/proc/${entry}/stat`)
    if (stat === undefined) continue
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
  }
  const out = new Set<number>([root])
  const queue = [root]
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (!out.has(child)) {
        out.add(child)
        queue.push(child)
      }
    }
  }
  return out
}

const netnsInode = (path: string) => {
  try {
    return statSync(path).ino
  } catch {
    return undefined
  }
}

/**
 * The processes that serve the network namespaces at `netnsPaths`: every process inside one (the
 * containers, the port forwarder's child), the conmon or rootlessport that parents one, and the
 * slirp4netns given one on its command line. Others on the machine (a test running beside the
 * benchmark) are left out.
 */
export const processesOf = (netnsPaths: ReadonlyArray<string>): Set<number> => {
  const inodes = new Set(netnsPaths.map(netnsInode).filter((i) => i !== undefined))
  const out = new Set<number>()
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let link: string
    try {
      link = readlinkSync(`/proc/${entry}/ns/net`)
    } catch {
      continue
    }
    const cmdline = read(`/proc/${entry}/cmdline`) ?? ""
    const inside = inodes.has(Number(/\[(\d+)\]/.exec(link)?.[1]))
    if (inside || netnsPaths.some((path) => cmdline.includes(path))) {
      out.add(Number(entry))
      if (!inside) continue
      const stat = read(`/proc/${entry}/stat`) ?? ""
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      const parent = proc(ppid)
      if (parent !== undefined && ["conmon", "rootlessport"].includes(parent.comm)) out.add(ppid)
    }
  }
  return out
}

/** The machine's busy and total CPU time so far, in ticks (the first line of /proc/stat). */
export const machineTicks = () => {
  const fields = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  return {
    busy: user + nice + system + irq + softirq + steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  }
}

/**
 * Millicores the whole machine was busy during `seconds` of `wait` (every process, including
 * short-lived ones a per-process snapshot misses: podman calls, health checks).
 */
export const machineMillicores = async (seconds: number) => {
  const before = machineTicks()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const after = machineTicks()
  return ((after.busy - before.busy) / TICKS_PER_SECOND / seconds) * 1000
}
