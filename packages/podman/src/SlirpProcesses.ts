/**
 * slirp4netns processes serving a pod's network namespace, found by the namespace path they name
 * in their arguments (Podman starts them with `--netns-type=path <path>`). Podman reports no PID
 * for them; this is how a dead one is noticed and how removal is checked.
 */
import { readdirSync, readFileSync } from "node:fs"

export interface SlirpProcess {
  readonly pid: number
  readonly args: ReadonlyArray<string>
}

/** Running slirp4netns processes whose arguments mention `needle` (a netns path). */
export const slirpProcessesFor = (needle: string): Array<SlirpProcess> => {
  const out: Array<SlirpProcess> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let args: Array<string>
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, "utf8")
        .split("\0")
        .filter((a) => a !== "")
    } catch {
      continue
    }
    if (args[0]?.endsWith("slirp4netns") && args.some((a) => a.includes(needle))) {
      out.push({ pid: Number(entry), args })
    }
  }
  return out
}
