/** Who owns a pod: this process as labels, and whether the owner a pod's labels name still runs. */
import { readFileSync } from "node:fs"
import { LABEL_OWNER, LABEL_OWNER_PID, LABEL_OWNER_START } from "../Ownership.js"

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), if it exists. */
export const processStartTime = (pid: number): string | undefined => {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return rest[19]
}

/** Labels naming this process as the owner. */
export const ownerLabels = (owner: string): Record<string, string> => ({
  [LABEL_OWNER]: owner,
  [LABEL_OWNER_PID]: String(process.pid),
  [LABEL_OWNER_START]: processStartTime(process.pid) ?? "unknown",
})

/**
 * `gone` only when provable: the labels are present and no process with that pid and start time
 * exists. `alive` when it does; `unknown` when the labels are missing or malformed.
 */
export const ownerState = (
  labels: Readonly<Record<string, string>> | null | undefined,
): "gone" | "alive" | "unknown" => {
  const pid = Number(labels?.[LABEL_OWNER_PID])
  const start = labels?.[LABEL_OWNER_START]
  if (!Number.isInteger(pid) || pid <= 0 || start === undefined || start === "unknown")
    return "unknown"
  return processStartTime(pid) === start ? "alive" : "gone"
}
