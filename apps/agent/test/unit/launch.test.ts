import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AGENT_V8_FLAGS } from "../../src/NodeOptions"

// The real launcher, built as `build.ts` builds it, next to a stand-in for the agent's bundle
// that prints what the agent would see.
const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), "../../src/launch.ts")
const STAND_IN = `import { getCompileCacheDir } from "node:module"
process.stdout.write(JSON.stringify({ pid: process.pid, arenas: process.env.MALLOC_ARENA_MAX,
  execArgv: process.execArgv, args: process.argv.slice(2), cache: getCompileCacheDir() }))
`

let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "beemesh-launch-test-"))
  await bundleApp({ entry: LAUNCHER, outfile: join(dir, "agent.mjs") })
  writeFileSync(join(dir, "agent-main.mjs"), STAND_IN)
}, 60_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const launch = (env: Record<string, string>, args: ReadonlyArray<string> = []) => {
  const { MALLOC_ARENA_MAX: _, NODE_COMPILE_CACHE: __, ...inherited } = process.env
  const run = spawnSync(
    process.execPath,
    ["--max-semi-space-size=1", join(dir, "agent.mjs"), ...args],
    { env: { ...inherited, NODE_COMPILE_CACHE: join(dir, "cache"), ...env }, encoding: "utf8" },
  )
  expect(run.status, run.stderr).toBe(0)
  return {
    pid: run.pid,
    seen: JSON.parse(run.stdout) as {
      pid: number
      arenas?: string
      execArgv: Array<string>
      args: Array<string>
      cache?: string
    },
    stderr: run.stderr,
  }
}

describe("the agent's launcher", () => {
  it("runs the bundle in the same process with 2 malloc arenas, the agent's V8 options and its arguments", () => {
    const { pid, seen } = launch({}, ["run", "--data-dir", "/tmp/x"])
    expect(seen).toMatchObject({
      pid,
      arenas: "2",
      execArgv: ["--max-semi-space-size=1", ...AGENT_V8_FLAGS],
      args: ["run", "--data-dir", "/tmp/x"],
    })
    expect(seen.cache).toContain(join(dir, "cache"))
  })

  it("keeps the operator's MALLOC_ARENA_MAX", () => {
    expect(launch({ MALLOC_ARENA_MAX: "4" }).seen.arenas).toBe("4")
  })

  it("compiles the bundle at the first start and reads it from the compile cache at the next", () => {
    const debug = { NODE_DEBUG_NATIVE: "COMPILE_CACHE", NODE_COMPILE_CACHE: join(dir, "fresh") }
    const accepted = /V8 code cache for ESM \S+\/agent-main\.mjs was accepted/
    expect(launch(debug).stderr).not.toMatch(accepted)
    expect(launch(debug).stderr).toMatch(accepted)
  })
})
