/**
 * What a container's main process does with SIGTERM, read from its signal masks. A stop sends
 * SIGTERM to that process only, then waits its grace period before SIGKILL. A process that neither
 * catches SIGTERM (a handler) nor blocks it (to read it from a signalfd, as catatonit does) gains
 * nothing from the wait: as the init of its PID namespace (every container here has one of its
 * own) the kernel drops the signal, and anywhere else SIGTERM kills it at once. Such a container can
 * get SIGKILL straight away; only one that handles SIGTERM waits its grace period (busybox httpd as
 * PID 1 otherwise holds every pod removal for the whole period).
 */
import { readFileSync } from "node:fs"

/** SIGTERM is signal 15: bit 14 of the masks in /proc/<pid>/status. */
const SIGTERM_BIT = 1n << 14n

const hasSigterm = (status: string, mask: "SigCgt" | "SigBlk") => {
  const hex = new RegExp(`^${mask}:\\s*([0-9a-fA-F]+)\\s*$`, "m").exec(status)?.[1]
  return hex === undefined ? undefined : (BigInt(`0x${hex}`) & SIGTERM_BIT) !== 0n
}

/**
 * Whether the process whose /proc/<pid>/status is `status` handles SIGTERM: catches it (`SigCgt`)
 * or blocks it (`SigBlk`: it may read it from a signalfd); undefined when the masks are unreadable.
 */
export const handlesSigterm = (status: string): boolean | undefined => {
  const caught = hasSigterm(status, "SigCgt")
  const blocked = hasSigterm(status, "SigBlk")
  return caught === undefined || blocked === undefined ? undefined : caught || blocked
}

/**
 * Whether process `pid` handles SIGTERM; undefined when it cannot be told (the process is gone, or
 * it is not one of this host's). Callers treat undefined as "it may": they wait.
 */
export const processHandlesSigterm = (pid: number): boolean | undefined => {
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8")
  } catch {
    return undefined
  }
  return handlesSigterm(status)
}
