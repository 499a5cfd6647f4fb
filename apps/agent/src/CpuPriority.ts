/**
 * The agent's share of the CPU against the pods it runs. Where Linux groups tasks by session for
 * scheduling (`sched_autogroup`, on these machines and many distributions), a process's nice
 * counts only within its session's group, and every session competes as one: each pod's conmon
 * (and the runc and `podman container cleanup` processes it starts) is a session of its
 * own, and while pods are being created a few dozen of those are runnable at once. On two cores
 * the agent then waited on the run queue for most of the time it wanted to run, and its API's
 * p99 while 55 pods were created or removed was 250–600 ms (`bench:density`).
 *
 * So at start the agent lowers its session's nice (`/proc/self/autogroup`): -10 by default as
 * root (`--nice`), as kube-reserved CPU keeps a kubelet responsive. Only the agent's session is
 * raised: its embedded Podman service, exec probes and pods run in sessions of their own. A host
 * without autogroups, or an agent in a cgroup of its own (a systemd service: autogroups apply
 * only to tasks of the root cgroup), is unaffected; there the cgroup's CPU weight decides
 * (systemd: `CPUWeight=`).
 *
 * An agent whose session never left the kernel's own group (started by an init that gives its
 * children no session, as a container's init or a CI runner may: `/proc/self/autogroup` is then
 * empty, and the kernel refuses a nice for it with EINVAL) has nothing to raise: its threads are
 * scheduled one by one. It is left, with the reason and the fix (`setsid`) in the log; raising the
 * threads instead would hand the nice to every process the agent starts, its Podman service and
 * through it every pod.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { Effect } from "effect"

/** The nice the agent gives its session as root, unless configured. */
export const DEFAULT_NICE_AS_ROOT = -10

export interface CpuPriorityFiles {
  /**
   * The session's autogroup: reads `/autogroup-N nice K` (empty in the kernel's root group),
   * takes a nice.
   */
  readonly autogroup: string
  /** `1` when the kernel groups tasks by session. */
  readonly enabled: string
  /** The process's cgroups, to tell whether autogroups apply to it (root cgroup only). */
  readonly cgroup: string
}

export const PROC_FILES: CpuPriorityFiles = {
  autogroup: "/proc/self/autogroup",
  enabled: "/proc/sys/kernel/sched_autogroup_enabled",
  cgroup: "/proc/self/cgroup",
}

export type CpuPriorityOutcome =
  | { readonly _tag: "Set"; readonly nice: number }
  | { readonly _tag: "Unchanged"; readonly reason: string }
  | { readonly _tag: "Refused"; readonly nice: number; readonly reason: string }

/** The cgroup this process's CPU is accounted in: the cpu controller's (v1) or the unified one. */
const cpuCgroupOf = (text: string): string | undefined => {
  let unified: string | undefined
  for (const line of text.split("\n")) {
    const [, controllers, path] = line.split(":", 3)
    if (controllers === undefined || path === undefined) continue
    if (controllers.split(",").includes("cpu")) return path
    if (controllers === "") unified = path
  }
  return unified
}

/**
 * Sets the session's autogroup nice to `nice`; `undefined` leaves it (0: the kernel's default).
 * Never fails: what it did, or why not, is in the outcome.
 */
export const setSessionNice = (
  nice: number | undefined,
  files: CpuPriorityFiles = PROC_FILES,
): CpuPriorityOutcome => {
  if (nice === undefined)
    return { _tag: "Unchanged", reason: "not configured (--nice) and not running as root" }
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim()
    } catch {
      return undefined
    }
  }
  const autogroup = read(files.autogroup)
  if (autogroup === undefined)
    return { _tag: "Unchanged", reason: "this kernel does not group tasks by session" }
  if (read(files.enabled) === "0")
    return {
      _tag: "Unchanged",
      reason: "autogroups are disabled (kernel.sched_autogroup_enabled=0)",
    }
  const cgroup = cpuCgroupOf(read(files.cgroup) ?? "")
  if (cgroup !== undefined && cgroup !== "/")
    return {
      _tag: "Unchanged",
      reason: `the agent runs in cgroup ${cgroup}, where its CPU weight decides (systemd: CPUWeight=)`,
    }
  if (autogroup === "")
    return {
      _tag: "Refused",
      nice,
      reason:
        "the agent has no session of its own (it is in the kernel's root scheduling group, as a process started by an init that does not give it a session); start it in one (setsid beemesh-agent …) for its nice to apply",
    }
  try {
    writeFileSync(files.autogroup, String(nice))
    return { _tag: "Set", nice }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return {
      _tag: "Refused",
      nice,
      reason:
        code === "EPERM" || code === "EACCES"
          ? "a nice below 0 needs root (CAP_SYS_NICE)"
          : String((error as Error).message),
    }
  }
}

/** Applies the configured nice (or the default as root) and logs what came of it. */
export const applyCpuPriority = (configured: number | undefined, uid: number | undefined) =>
  Effect.suspend(() => {
    const outcome = setSessionNice(configured ?? (uid === 0 ? DEFAULT_NICE_AS_ROOT : undefined))
    switch (outcome._tag) {
      case "Set":
        return Effect.logInfo(
          `CPU priority: the agent's session runs at nice ${outcome.nice} against the pods' sessions`,
        )
      case "Unchanged":
        return Effect.logDebug(`CPU priority unchanged: ${outcome.reason}`)
      case "Refused":
        return (configured === undefined ? Effect.logInfo : Effect.logWarning)(
          `CPU priority: nice ${outcome.nice} refused: ${outcome.reason}`,
        )
    }
  })
