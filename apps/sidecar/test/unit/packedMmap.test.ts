import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { buildPackedMmap } from "../../image/packedMmap"

const dir = mkdtempSync(join(tmpdir(), "beemesh-packed-mmap-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// About 40 MiB of V8 heap (some 160 pages of 256 KiB), a WebAssembly memory grown and written (a
// large reservation, which keeps its hint), then the process's page tables and whether the library
// is mapped.
const CHILD = `
const { readFileSync } = require("node:fs")
const keep = []
for (let i = 0; i < 400000; i++) keep.push({ i, s: "x" + i })
const memory = new WebAssembly.Memory({ initial: 1 })
memory.grow(4)
new Uint8Array(memory.buffer).fill(1)
const status = readFileSync("/proc/self/status", "utf8")
process.stdout.write(JSON.stringify({
  pageTablesKiB: Number(/^VmPTE:\\s+(\\d+)/m.exec(status)[1]),
  preloaded: readFileSync("/proc/self/maps", "utf8").includes("packed-mmap"),
  objects: keep.length,
  wasm: new Uint8Array(memory.buffer)[5 * 65536 - 1],
}))
`

const runNode = (env: Record<string, string>) => {
  const run = spawnSync(process.execPath, ["-e", CHILD], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", ...env },
    timeout: 30_000,
  })
  expect(run.status, run.stderr).toBe(0)
  expect(run.stderr).toBe("")
  return JSON.parse(run.stdout) as {
    pageTablesKiB: number
    preloaded: boolean
    objects: number
    wasm: number
  }
}

describe("the packed-mmap library (image/packed-mmap.c)", () => {
  it("builds with the host's C compiler, and node runs the same with it preloaded, on a fraction of the page tables", () => {
    const library = buildPackedMmap(join(dir, "lib/libbeemesh-packed-mmap.so"))
    const plain = runNode({})
    const packed = runNode({ LD_PRELOAD: library })
    expect(plain.preloaded).toBe(false)
    expect(packed.preloaded).toBe(true)
    for (const r of [plain, packed]) {
      expect(r.objects).toBe(400000)
      expect(r.wasm).toBe(1)
    }
    // V8 scatters its heap pages over the address space when its hints are honoured (about 2.3
    // MiB of page tables here); packed, the same heap needs about 0.4 MiB.
    expect(packed.pageTablesKiB).toBeLessThan(plain.pageTablesKiB / 2)
  }, 60_000)
})
