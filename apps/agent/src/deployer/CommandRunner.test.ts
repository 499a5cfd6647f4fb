import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { runCommand } from "./CommandRunner"

const dir = mkdtempSync(join(tmpdir(), "beemesh-command-runner-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Running or sleeping; a killed process whose new parent has not reaped it yet (Z) is dead. */
const alive = (pid: number) => {
  const stat = join("/proc", String(pid), "stat")
  if (!existsSync(stat)) return false
  const state = readFileSync(stat, "utf8").split(") ")[1]?.[0]
  return state !== "Z" && state !== "X"
}

describe("runCommand (an exec probe's process)", () => {
  it("gives the exit code and the output", async () => {
    const outcome = await Effect.runPromise(
      runCommand(["sh", "-c", "echo not ready; exit 3"], 5_000),
    )
    expect(outcome).toEqual({ exitCode: 3, timedOut: false, output: "not ready" })
  })

  it("kills the whole process group at the timeout, a background child included", async () => {
    const pidFile = join(dir, "child.pid")
    const started = Date.now()
    const outcome = await Effect.runPromise(
      runCommand(["sh", "-c", `sleep 30 & echo $! > ${pidFile}; wait`], 300),
    )
    expect(outcome.timedOut).toBe(true)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(existsSync(pidFile)).toBe(true)
    const child = Number(readFileSync(pidFile, "utf8"))
    const deadline = Date.now() + 2_000
    while (alive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(alive(child)).toBe(false)
  })
})
