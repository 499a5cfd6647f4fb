/** This process's resource limits, read from /proc (Node has no getrlimit). */
import { readFileSync } from "node:fs"

export interface HardLimits {
  readonly nofile: number
  readonly nproc: number
}

const parseLimit = (text: string, label: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(label))
  if (line === undefined) return undefined
  const fields = line.slice(label.length).trim().split(/\s+/)
  const hard = fields[1]
  return hard === undefined || hard === "unlimited" ? undefined : Number(hard)
}

const readOr = (path: string, fallback: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return fallback
  }
}

/**
 * Limits a container may ask for on this host: no higher than our own hard limits (a process
 * without CAP_SYS_RESOURCE cannot raise them, and runc's setrlimit then fails), and nproc no higher
 * than kernel.pid_max, because Podman lowers its own nproc limit to pid_max at start-up.
 */
export const containerLimits = (): HardLimits => {
  const limits = readOr("/proc/self/limits", "")
  const pidMax = Number(readOr("/proc/sys/kernel/pid_max", "32768").trim()) || 32768
  const nofile = parseLimit(limits, "Max open files") ?? 1048576
  const nproc = Math.min(parseLimit(limits, "Max processes") ?? pidMax, pidMax)
  return { nofile, nproc }
}

export const parseLimitsForTest = parseLimit
