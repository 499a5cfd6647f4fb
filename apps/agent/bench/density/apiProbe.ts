/**
 * Asks the agent's API over and over from a process of its own while the density benchmark makes
 * the agent work (scaling: reconcile creating and removing pods), so that the benchmark's own
 * blocking calls (it runs podman and pgrep synchronously) never count in the latencies. The probe
 * stops on SIGTERM, or when the benchmark's process ends (its stdin closes).
 */
import { type ChildProcess, spawn } from "node:child_process"

/** The probe's loop: GET each path in turn, one request at a time, `gapMs` apart. */
const PROBE = `
const [url, token, gapMs, ...paths] = process.argv.slice(1)
const samples = Object.fromEntries(paths.map((p) => [p, []]))
const failures = Object.fromEntries(paths.map((p) => [p, 0]))
let running = true
process.on("SIGTERM", () => { running = false })
// The benchmark gone (its end of stdin closed), the probe stops too.
process.stdin.on("close", () => { running = false })
process.stdin.resume()
const headers = token === "" ? {} : { authorization: "Bearer " + token }
for (let i = 0; running; i++) {
  const path = paths[i % paths.length]
  const t = performance.now()
  try {
    const response = await fetch(url + path, { headers, signal: AbortSignal.timeout(30000) })
    await response.arrayBuffer()
    if (response.ok) samples[path].push(performance.now() - t)
    else failures[path]++
  } catch {
    failures[path]++
  }
  await new Promise((r) => setTimeout(r, Number(gapMs)))
}
// Exits once written: the open stdin would keep the process alive.
process.stdout.write(JSON.stringify({ samples, failures }), () => process.exit(0))
`

export interface ProbeResult {
  /** Milliseconds per answered request, by path. */
  readonly samples: Record<string, ReadonlyArray<number>>
  /** Requests that failed or were answered with an error status, by path. */
  readonly failures: Record<string, number>
}

export interface ApiProbe {
  /** Stops the probe (by its PID) and answers what it measured. */
  readonly stop: () => Promise<ProbeResult>
}

export const startApiProbe = (
  url: string,
  token: string,
  paths: ReadonlyArray<string>,
  gapMs = 50,
): ApiProbe => {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--input-type=module", "-e", PROBE, url, token, String(gapMs), ...paths],
    { stdio: ["pipe", "pipe", "inherit"] },
  )
  let out = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
  return {
    stop: async () => {
      child.kill("SIGTERM")
      const code = await exited
      if (code !== 0) throw new Error(`the API probe exited with ${code}`)
      return JSON.parse(out) as ProbeResult
    },
  }
}
