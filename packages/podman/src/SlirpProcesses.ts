/**
 * slirp4netns processes serving a pod's network namespace, found by the namespace path they name
 * in their arguments (Podman starts them with `--netns-type=path <path>`). Podman reports no PID
 * for them; this is how a dead one is noticed and how removal is checked.
 */
import { readdirSync, readFileSync } from "node:fs"
import { readdir } from "node:fs/promises"
import { Effect } from "effect"

export interface SlirpProcess {
  readonly pid: number
  readonly args: ReadonlyArray<string>
}

/**
 * Processes read between two turns of the event loop in `findSlirpProcesses`. A read of one
 * `cmdline` costs ~12 µs, and a host with 110 pods runs ~1100 processes: read in one go, a walk
 * held an agent's event loop for 13 ms on an idle machine and far longer on a busy one.
 */
const PROCESSES_PER_TURN = 64

/** The slirp4netns process `pid` naming `needle`, or undefined (another program, or gone). */
const slirpAt = (pid: number, needle: string): SlirpProcess | undefined => {
  let args: Array<string>
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((a) => a !== "")
  } catch {
    return undefined
  }
  return args[0]?.endsWith("slirp4netns") && args.some((a) => a.includes(needle))
    ? { pid, args }
    : undefined
}

const pidsOf = (entries: ReadonlyArray<string>) =>
  entries.flatMap((entry) => (/^\d+$/.test(entry) ? [Number(entry)] : []))

/** Running slirp4netns processes whose arguments mention `needle` (a netns path); blocks. */
export const slirpProcessesFor = (needle: string): Array<SlirpProcess> =>
  pidsOf(readdirSync("/proc")).flatMap((pid) => slirpAt(pid, needle) ?? [])

/** Lets the event loop run what waits (I/O callbacks, timers) before going on. */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * `slirpProcessesFor`, leaving the event loop free between every few processes read: the agent's
 * API answers during a walk. The empty needle matches every slirp4netns (one walk for many pods).
 */
export const findSlirpProcesses = (needle = ""): Effect.Effect<Array<SlirpProcess>> =>
  Effect.gen(function* () {
    const pids = pidsOf(yield* Effect.promise(() => readdir("/proc")))
    const found: Array<SlirpProcess> = []
    for (let at = 0; at < pids.length; at += PROCESSES_PER_TURN) {
      if (at > 0) yield* nextTurn
      for (const pid of pids.slice(at, at + PROCESSES_PER_TURN)) {
        const slirp = slirpAt(pid, needle)
        if (slirp !== undefined) found.push(slirp)
      }
    }
    return found
  })

/**
 * Whether `slirp` still runs and still names `needle`: a look at its own `cmdline`, for a caller
 * that waits for known processes to exit (a PID reused by another program does not count).
 */
export const slirpStillRuns = (slirp: SlirpProcess, needle: string): boolean =>
  slirpAt(slirp.pid, needle) !== undefined
