import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundleSidecar } from "../../image/bundle"

const dir = mkdtempSync(join(tmpdir(), "beemesh-sidecar-bundle-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Which of Node's own modules the bundled program has loaded when it exits (here at once: without
// its environment it exits 2 after evaluating every module, before any I/O).
const REPORT_LOADED = `data:text/javascript,process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify(process.moduleLoadList) + "\\n"))`

describe("the sidecar bundle", () => {
  it("does not load undici (fetch, web streams) when its modules are evaluated", async () => {
    const bundle = await bundleSidecar(join(dir, "sidecar.mjs"))
    const run = spawnSync(process.execPath, ["--import", REPORT_LOADED, bundle], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
      timeout: 30_000,
    })
    expect(run.status, run.stderr).toBe(2)
    const line = run.stderr.split("\n").find((l) => l.startsWith("LOADED "))
    expect(line, run.stderr).toBeDefined()
    const loaded: ReadonlyArray<string> = JSON.parse(line!.slice("LOADED ".length))
    expect(loaded).toContain("NativeModule http")
    expect(loaded.filter((m) => /undici|http2|webstreams/.test(m))).toEqual([])
  }, 60_000)
})
