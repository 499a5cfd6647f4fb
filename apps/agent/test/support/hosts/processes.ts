/**
 * Long-running processes of a simulated host: started detached in their own process group with
 * output to a log file and the PID in a file, so a later process (`demo stop`, the sweeper) finds
 * them after this one is gone; stopped by PID, group first.
 */
import { spawn } from "node:child_process"
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { waitFor } from "./wait"

export interface DetachedProcess {
  readonly argv: ReadonlyArray<string>
  readonly logFile: string
  readonly pidFile: string
  readonly env?: Readonly<Record<string, string>>
}

/** Starts the process and writes its PID file; the caller waits for readiness its own way. */
export const startDetached = (spec: DetachedProcess): number => {
  const log = openSync(spec.logFile, "a")
  const [command, ...args] = spec.argv
  const child = spawn(command!, args, {
    detached: true,
    stdio: ["ignore", log, log],
    ...(spec.env === undefined ? {} : { env: { ...process.env, ...spec.env } }),
  })
  closeSync(log)
  child.unref()
  if (child.pid === undefined) throw new Error(`could not start ${spec.argv.join(" ")}`)
  writeFileSync(spec.pidFile, String(child.pid))
  return child.pid
}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    // A zombie still answers signal 0; it is gone for our purposes.
    return !/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

const signal = (pid: number, name: NodeJS.Signals) => {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name)
    } catch {
      // not a group leader, or already gone
    }
  }
}

/** SIGTERM (or SIGKILL at once with graceMs 0) to the process and its group; SIGKILL after graceMs. */
export const stopPid = async (pid: number, graceMs = 5_000) => {
  if (!isAlive(pid)) return
  signal(pid, graceMs === 0 ? "SIGKILL" : "SIGTERM")
  try {
    await waitFor(`process ${pid} to exit`, () => (isAlive(pid) ? undefined : true), graceMs, 50)
  } catch {
    signal(pid, "SIGKILL")
    await waitFor(
      `process ${pid} to exit after SIGKILL`,
      () => (isAlive(pid) ? undefined : true),
      5_000,
      50,
    )
  }
}

/** The PID recorded in a PID file, if the file exists. */
export const readPid = (pidFile: string): number | undefined => {
  try {
    const pid = Number(readFileSync(pidFile, "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Every process whose network namespace is the one mounted at `netnsPath`. */
export const pidsInNetns = (netnsPath: string): ReadonlyArray<number> => {
  let inode: number
  try {
    inode = statSync(netnsPath).ino
  } catch {
    return []
  }
  const pids: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === `net:[${inode}]`) pids.push(Number(entry))
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return pids
}
