/**
 * One process's memory from /proc/<pid>/smaps: RSS, PSS and private (clean + dirty) in total and
 * by mapping, so a figure can be traced to glibc's heap, V8's pages, the node binary or a library.
 */
import { readFileSync } from "node:fs"

export interface MemoryFigures {
  readonly rssMiB: number
  readonly pssMiB: number
  readonly privateMiB: number
}

export interface ProcessMemory extends MemoryFigures {
  /** Private MiB by mapping (anonymous mappings as `[anon]`), largest first. */
  readonly byMapping: ReadonlyArray<{ readonly mapping: string; readonly privateMiB: number }>
  /**
   * RSS MiB by mapping and permissions (`node r-xp`: code; shared pages included: most of the
   * node binary's are), largest first.
   */
  readonly rssByMapping: ReadonlyArray<{ readonly mapping: string; readonly rssMiB: number }>
}

const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10

/** The entries of at least 0.5 MiB, in MiB, largest first. */
const largest = (kibBy: Map<string, number>): Array<[string, number]> =>
  [...kibBy]
    .map(([key, kib]): [string, number] => [key, MiB(kib)])
    .filter(([, mib]) => mib >= 0.5)
    .sort((a, b) => b[1] - a[1])

export const processMemory = (pid: number): ProcessMemory => {
  const smaps = readFileSync(`/proc/${pid}/smaps`, "utf8")
  const byMapping = new Map<string, number>()
  const rssByMapping = new Map<string, number>()
  let rss = 0
  let pss = 0
  let priv = 0
  let mapping = ""
  let permissions = ""
  for (const line of smaps.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (header !== null) {
      mapping = header[2] === "" ? "[anon]" : header[2]!
      permissions = header[1]!
      continue
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line)
    if (field === null) continue
    const kib = Number(field[2])
    if (field[1] === "Rss") {
      rss += kib
      const key = `${mapping} ${permissions}`
      rssByMapping.set(key, (rssByMapping.get(key) ?? 0) + kib)
    } else if (field[1] === "Pss") pss += kib
    else if (field[1] === "Private_Clean" || field[1] === "Private_Dirty") {
      priv += kib
      byMapping.set(mapping, (byMapping.get(mapping) ?? 0) + kib)
    }
  }
  return {
    rssMiB: MiB(rss),
    pssMiB: MiB(pss),
    privateMiB: MiB(priv),
    byMapping: largest(byMapping).map(([mapping, privateMiB]) => ({ mapping, privateMiB })),
    rssByMapping: largest(rssByMapping).map(([mapping, rssMiB]) => ({ mapping, rssMiB })),
  }
}
