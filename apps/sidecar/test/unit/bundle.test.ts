import { spawnSync } from "node:child_process"
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleApp } from "@beemesh/bundle"
import { proxyNodeFlags } from "@beemesh/proxy"
import { afterAll, describe, expect, it } from "vitest"
import { bundleSidecar } from "../../image/bundle"
import {
  COMPILE_CACHE_DIR,
  compileCacheEnvironment,
  writeCompileCache,
} from "../../image/compileCache"

const dir = mkdtempSync(join(tmpdir(), "beemesh-sidecar-bundle-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const bundled = bundleSidecar(join(dir, "built/sidecar.mjs"))

const cacheBytes = (cacheDir: string) =>
  readdirSync(cacheDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name)))

// Which of Node's own modules the bundled program has loaded when it exits (here at once: without
// its environment it exits 2 after evaluating every module, before any I/O).
const REPORT_LOADED = `data:text/javascript,process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify(process.moduleLoadList) + "\\n"))`

describe("the sidecar bundle", () => {
  it("does not load undici (fetch, web streams) when its modules are evaluated", async () => {
    const bundle = await bundled
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

  it("holds Node's SHA-256 where @chainsafe/as-sha256 was (no WebAssembly SHA-256 is loaded)", async () => {
    const source = readFileSync(await bundled, "utf8")
    expect(source).not.toMatch(/digest64|wasmSimdCode|simdEnabled/)
    // The replacement gives SHA-256's digests (FIPS 180-2 test vectors) as new Uint8Arrays.
    const entry = join(dir, "sha-entry.mjs")
    writeFileSync(
      entry,
      `import { digest } from "@chainsafe/as-sha256"
const hex = (b) => Buffer.from(b).toString("hex")
const long = new Uint8Array(1000000).fill(0x61)
const out = [digest(new Uint8Array(0)), digest(new TextEncoder().encode("abc")), digest(long)]
console.log(JSON.stringify({ hex: out.map(hex), plain: out.every((d) => d.constructor === Uint8Array) }))
`,
    )
    const built = await bundleApp({ entry, outfile: join(dir, "sha.mjs") })
    const run = spawnSync(process.execPath, [built], { encoding: "utf8", timeout: 30_000 })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({
      hex: [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      ],
      plain: true,
    })
  }, 60_000)

  it("writes a compile cache that is the same bytes every time", async () => {
    const bundle = await bundled
    const cacheDir = writeCompileCache(bundle, process.execPath)
    expect(cacheDir).toBe(join(dir, "built", COMPILE_CACHE_DIR))
    const first = cacheBytes(cacheDir)
    expect(first).toHaveLength(1)
    expect(first[0]!.length).toBeGreaterThan(100_000)
    writeCompileCache(bundle, process.execPath)
    expect(cacheBytes(cacheDir)).toEqual(first)
    // Node looks for its cache under a directory named for the user it runs as.
    const uid = process.getuid?.() ?? 0
    expect(readdirSync(cacheDir)).toEqual([expect.stringMatching(new RegExp(`-${uid}$`))])
    writeCompileCache(bundle, process.execPath, 1337)
    expect(readdirSync(cacheDir)).toEqual([expect.stringMatching(/^v\d+\.\d+\.\d+-.*-1337$/)])
    expect(cacheBytes(cacheDir)).toEqual(first)
  }, 60_000)

  it("starts from its compile cache when moved elsewhere (as into the image's /app)", async () => {
    const bundle = await bundled
    writeCompileCache(bundle, process.execPath)
    const moved = join(dir, "moved/app")
    mkdirSync(moved, { recursive: true })
    cpSync(join(dir, "built"), moved, { recursive: true })
    const start = (flags: ReadonlyArray<string>) =>
      spawnSync(process.execPath, [...flags, join(moved, "sidecar.mjs")], {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH ?? "",
          NODE_DEBUG_NATIVE: "COMPILE_CACHE",
          ...compileCacheEnvironment(join(moved, "sidecar.mjs")),
        },
        timeout: 30_000,
      })
    const withFlags = start(proxyNodeFlags)
    expect(withFlags.status, withFlags.stderr).toBe(2)
    expect(withFlags.stderr).toMatch(
      /code cache for ESM \S+\/moved\/app\/sidecar\.mjs was accepted/,
    )
    // Other V8 flags (the healthcheck command runs without them): a miss, not an error.
    const without = start([])
    expect(without.status, without.stderr).toBe(2)
    expect(without.stderr).not.toMatch(/was accepted/)
  }, 60_000)
})
