/**
 * Finds running `beemesh-agent run` processes by what they serve rather than by a PID file: an agent
 * restarted by hand (or after a crash) is still found. Matches processes in this network namespace
 * (simulated hosts' agents live in their own) whose data directory is the given one, from
 * `--data-dir`, `BEEMESH_DATA_DIR` or the default, or whose `--api` is the given address.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

const flag = (argv: ReadonlyArray<string>, name: string) => {
  const index = argv.findIndex((arg) => arg === name || arg.startsWith(`${name}=`))
  if (index === -1) return undefined
  const arg = argv[index]!
  return arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : argv[index + 1]
}

export interface AgentMatch {
  readonly dataDir: string
  readonly defaultDataDir: string
  /** The API address as given to --api (HOST:PORT). */
  readonly api: string
}

export const findAgentProcesses = (match: AgentMatch): ReadonlyArray<number> => {
  const ownNetns = readlinkSync("/proc/self/ns/net")
  const found: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const argv = (read(`/proc/${entry}/cmdline`) ?? "").split("\0").filter((a) => a !== "")
    const script = argv.findIndex((a) => /(^|\/)(agent\.mjs|beemesh-agent)$/.test(a))
    if (script === -1 || argv[script + 1] !== "run") continue
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) !== ownNetns) continue
    } catch {
      continue
    }
    const environ = (read(`/proc/${entry}/environ`) ?? "").split("\0")
    const dataDir =
      flag(argv, "--data-dir") ??
      environ.find((e) => e.startsWith("BEEMESH_DATA_DIR="))?.slice("BEEMESH_DATA_DIR=".length) ??
      match.defaultDataDir
    const api =
      flag(argv, "--api") ??
      environ.find((e) => e.startsWith("BEEMESH_API="))?.slice("BEEMESH_API=".length) ??
      "127.0.0.1:8080"
    if (dataDir === match.dataDir || api === match.api) found.push(Number(entry))
  }
  return found
}
