import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const MODULE = fileURLToPath(new URL("./EarlyTermination.ts", import.meta.url))

/**
 * A process that imports the module, then stays busy for a while as the bundle's loading does
 * (signal listeners cannot run meanwhile), then installs its own listener and hands the signals over to it.
 */
const program = `
import { handOverSignals } from ${JSON.stringify(MODULE)}
process.stdout.write("loading\\n")
const until = Date.now() + 1500
while (Date.now() < until) {}
process.once("SIGTERM", () => { process.stdout.write("handed over\\n"); process.exit(0) })
handOverSignals()
setTimeout(() => process.exit(3), 10_000)
`

const run = (signalDuringLoad: boolean) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "--eval", program],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    )
    let output = ""
    child.stdout.on("data", (chunk) => {
      output += chunk
      if (output === "loading\n") {
        if (signalDuringLoad) child.kill("SIGTERM")
        else setTimeout(() => child.kill("SIGTERM"), 2500)
      }
    })
    child.once("exit", (code, signal) => resolve({ code, signal, output }))
  })

describe("EarlyTermination", () => {
  it("a SIGTERM while the bundle loads is kept for the handlers installed after it, not lost", async () => {
    // Without a listener Node's default action applies, which a container's PID 1 never sees.
    const result = await run(true)
    expect(result).toEqual({ code: 0, signal: null, output: "loading\nhanded over\n" })
  }, 20_000)

  it("after the hand-over only the new listener acts", async () => {
    const result = await run(false)
    expect(result).toEqual({ code: 0, signal: null, output: "loading\nhanded over\n" })
  }, 20_000)
})
