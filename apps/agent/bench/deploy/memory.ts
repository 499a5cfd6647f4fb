/**
 * A process's memory as the benchmark reports it: RSS, PSS and private memory from
 * /proc/<pid>/smaps_rollup (RSS counts the Node binary's file pages, which every Node process on
 * the host shares), and the V8 heap from a diagnostic report (`--report-on-signal`, SIGUSR2).
 */
import { readdirSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"

export interface Memory {
  readonly rssMiB: number
  readonly pssMiB: number
  readonly privateMiB: number
}

const MiB = (kB: number) => Math.round((kB / 1024) * 10) / 10

export const memoryOf = (pid: number): Memory => {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8")
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1])
  return {
    rssMiB: MiB(field("Rss")),
    pssMiB: MiB(field("Pss")),
    privateMiB: MiB(field("Private_Clean") + field("Private_Dirty")),
  }
}

export interface HeapFigures {
  /** V8's heap: committed and used, MiB. */
  readonly heapTotalMiB: number
  readonly heapUsedMiB: number
  /** Committed size per heap space, MiB (new space is the semi-spaces). */
  readonly spaces: Readonly<Record<string, number>>
}

/** Node flags that let `heapOf` ask the process for a report in `directory`. */
export const reportFlags = (directory: string) => [
  "--report-on-signal",
  "--report-signal=SIGUSR2",
  `--report-directory=${directory}`,
]

/** Sends SIGUSR2 and reads the report the process writes into `directory` (then removes it). */
export const heapOf = async (pid: number, directory: string): Promise<HeapFigures> => {
  const before = new Set(readdirSync(directory))
  process.kill(pid, "SIGUSR2")
  const deadline = Date.now() + 10_000
  for (;;) {
    const fresh = readdirSync(directory).find((f) => f.endsWith(".json") && !before.has(f))
    if (fresh !== undefined) {
      const path = join(directory, fresh)
      // The report is written in one go; a half-written file fails to parse: try again.
      try {
        const report = JSON.parse(readFileSync(path, "utf8")) as {
          javascriptHeap: {
            totalMemory: number
            usedMemory: number
            heapSpaces: Record<string, { memorySize: number }>
          }
        }
        rmSync(path)
        const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10
        return {
          heapTotalMiB: mib(report.javascriptHeap.totalMemory),
          heapUsedMiB: mib(report.javascriptHeap.usedMemory),
          spaces: Object.fromEntries(
            Object.entries(report.javascriptHeap.heapSpaces).map(([name, space]) => [
              name,
              mib(space.memorySize),
            ]),
          ),
        }
      } catch {}
    }
    if (Date.now() > deadline) throw new Error(`process ${pid} wrote no report into ${directory}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
