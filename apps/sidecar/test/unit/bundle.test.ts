import { spawnSync } from "node:child_process"
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { bundleApp } from "@beemesh/bundle"
import { afterAll, describe, expect, it } from "vitest"
import { bundleSidecar, PACKAGE_DIR } from "../../image/bundle"
import {
  COMPILE_CACHE_DIR,
  compileCacheEnvironment,
  writeCompileCache,
} from "../../image/compileCache"
import { SIDECAR_NODE_FLAGS } from "../../src/NodeFlags"

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

  it("has no code that collates by locale (ICU's collation data: 1.5–3 MiB of RSS once used)", async () => {
    // libp2p's peer store sorted with localeCompare; patches/ make it compare code units.
    expect(readFileSync(await bundled, "utf8")).not.toMatch(/localeCompare|Intl\.Collator/)
  })

  it("leaves the closures it makes at run time in fast mode, and names them through its source map", async () => {
    // esbuild's keepNames redefined every function's `name`, which turned each closure made per
    // connection into a dictionary-mode object: 1.7 MiB idle, 4 MiB under load (README Footprint).
    const renamesFunctions = /"name",\{value:\w+,configurable:!0\}/.test(
      readFileSync(await bundled, "utf8"),
    )
    expect(renamesFunctions, "the bundle redefines functions' names (esbuild keepNames)").toBe(
      false,
    )
    const entry = join(dir, "names-entry.mjs")
    writeFileSync(
      entry,
      `const hasFastProperties = new Function("f", "return %HasFastProperties(f)")
export function perConnection(n) {
  const onMessage = (x) => x + n
  return onMessage
}
function failingDeepInside() {
  throw new Error("deep failure")
}
const closures = [1, 2, 3].map(perConnection)
let stack = ""
try { failingDeepInside() } catch (e) { stack = e.stack }
console.log(JSON.stringify({ fast: closures.every(hasFastProperties), stack }))
`,
    )
    const built = await bundleApp({
      entry,
      outfile: join(dir, "names.mjs"),
      minify: true,
      mangle: true,
    })
    expect(readFileSync(built, "utf8")).not.toContain("failingDeepInside")
    const run = (flags: ReadonlyArray<string>) => {
      const result = spawnSync(process.execPath, ["--allow-natives-syntax", ...flags, built], {
        encoding: "utf8",
        timeout: 30_000,
      })
      expect(result.status, result.stderr).toBe(0)
      return JSON.parse(result.stdout) as { fast: boolean; stack: string }
    }
    expect(run([]).fast).toBe(true)
    expect(run([]).stack).not.toContain("failingDeepInside")
    const mapped = run(["--enable-source-maps"])
    expect(mapped.stack).toMatch(/at failingDeepInside \(.*names-entry\.mjs:7:9\)/)
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

  // The same deterministic cases sealed and opened by each replacement (in a bundle) and by the
  // package itself (WebAssembly, its own entry), compared byte for byte: sizes around the
  // WebAssembly's 64 KiB chunk too, and associated data up to the 32 bytes Noise's handshake uses.
  const CASES = `
const bytes = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + 5) & 255)
const hex = (b) => (b === null ? null : Buffer.from(b).toString("hex"))
export const run = ({ ChaCha20Poly1305, newInstance }) => {
  const c = new ChaCha20Poly1305(newInstance())
  const out = []
  for (const size of [0, 1, 15, 16, 17, 100, 1199, 1200, 5000, 65536, 65537, 140000])
    for (const ad of [undefined, bytes(12, size), bytes(32, size)]) {
      const key = bytes(32, size + 1), nonce = bytes(12, size + 2), plain = bytes(size, size + 3)
      const sealed = c.seal(key, nonce, plain, ad)
      const tampered = Uint8Array.from(sealed); tampered[size % sealed.length] ^= 1
      const tamperedTag = Uint8Array.from(sealed); tamperedTag[sealed.length - 1] ^= 0x80
      const dst = new Uint8Array(size)
      const intoDst = c.open(key, nonce, sealed, ad, dst)
      let wrongDst = "no error"
      try { c.open(key, nonce, sealed, ad, new Uint8Array(size + 1)) } catch (e) { wrongDst = "error" }
      out.push({ sealed: hex(sealed), opened: hex(c.open(key, nonce, sealed, ad)), tampered: hex(c.open(key, nonce, tampered, ad)),
        tamperedTag: hex(c.open(key, nonce, tamperedTag, ad)), wrongKey: hex(c.open(bytes(32, 99), nonce, sealed, ad)),
        wrongAd: hex(c.open(key, nonce, sealed, bytes(4, 1))), intoDst: hex(intoDst), dstFilled: hex(dst), wrongDst })
    }
  out.push({ short: hex(c.open(bytes(32, 1), bytes(12, 2), bytes(15, 3))) })
  return out
}
`
  const bundleCases = async (noiseCipher: "node" | "webassembly") => {
    writeFileSync(join(dir, "chacha-cases.mjs"), CASES)
    writeFileSync(
      join(dir, "chacha-entry.mjs"),
      `import * as chacha from "@chainsafe/as-chacha20poly1305"
import { run } from "./chacha-cases.mjs"
console.log(JSON.stringify(run(chacha)))
`,
    )
    return bundleApp({
      entry: join(dir, "chacha-entry.mjs"),
      outfile: join(dir, `chacha-${noiseCipher}.mjs`),
      noiseCipher,
    })
  }

  it("holds one WebAssembly ChaCha20-Poly1305 instance: not the package's entry, which makes a second", async () => {
    const source = readFileSync(await bundled, "utf8")
    expect(source).toContain("sealUpdate")
    expect(source).not.toMatch(/chacha20StreamXOR|Poly1305\.prototype/)
    // The agent's and the CLI's bundles keep Node's (the default): no WebAssembly ChaCha20 at all.
    const agentLike = await bundleCases("node")
    expect(readFileSync(agentLike, "utf8")).not.toMatch(/sealUpdate|wasmCode/)
  }, 60_000)

  it.each(["node", "webassembly"] as const)(
    "holds a ChaCha20-Poly1305 (%s) where @chainsafe/as-chacha20poly1305 was, with the package's results",
    async (noiseCipher) => {
      const built = await bundleCases(noiseCipher)
      const replaced = spawnSync(process.execPath, [built], {
        encoding: "utf8",
        timeout: 30_000,
        maxBuffer: 64 * 1024 * 1024,
      })
      expect(replaced.status, replaced.stderr).toBe(0)
      // The package itself, found where libp2p-noise (a dependency of @beemesh/p2p) finds it.
      const p2p = realpathSync(join(PACKAGE_DIR, "node_modules/@beemesh/p2p"))
      const noise = realpathSync(join(p2p, "node_modules/@chainsafe/libp2p-noise"))
      const fromNoise = createRequire(join(noise, "package.json"))
      const original = fromNoise("@chainsafe/as-chacha20poly1305")
      const { run } = await import(join(dir, "chacha-cases.mjs"))
      const expected = run(original)
      expect(expected[0].sealed).toMatch(/^[0-9a-f]{32}$/)
      expect(expected[0].tamperedTag).toBeNull()
      expect(expected.at(-1)).toEqual({ short: null })
      expect(JSON.parse(replaced.stdout)).toEqual(expected)
    },
    60_000,
  )

  it.each(["node", "webassembly"] as const)(
    "seals and opens RFC 8439's AEAD test vector, and refuses it forged, with the replacement (%s)",
    async (noiseCipher) => {
      const entry = join(dir, `rfc-entry-${noiseCipher}.mjs`)
      writeFileSync(
        entry,
        `import { ChaCha20Poly1305, newInstance } from "@chainsafe/as-chacha20poly1305"
const key = Buffer.from("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", "hex")
const nonce = Buffer.from("070000004041424344454647", "hex")
const ad = Buffer.from("50515253c0c1c2c3c4c5c6c7", "hex")
const plain = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
const c = new ChaCha20Poly1305(newInstance())
const sealed = c.seal(key, nonce, plain, ad)
console.log(Buffer.from(sealed).toString("hex"))
console.log(Buffer.from(c.open(key, nonce, sealed, ad)).toString())
// A forged message leaves no unauthenticated plaintext in the caller's destination.
const forged = Uint8Array.from(sealed); forged[0] ^= 1
const dst = new Uint8Array(plain.length)
console.log(String(c.open(key, nonce, forged, ad, dst)) + " " + dst.every((b) => b === 0))
`,
      )
      const built = await bundleApp({
        entry,
        outfile: join(dir, `rfc-${noiseCipher}.mjs`),
        noiseCipher,
      })
      const run = spawnSync(process.execPath, [built], { encoding: "utf8", timeout: 30_000 })
      expect(run.status, run.stderr).toBe(0)
      // RFC 8439 §2.8.2: the ciphertext, then the tag 1ae10b594f09e26a7e902ecbd0600691.
      expect(run.stdout.split("\n").slice(0, 3)).toEqual([
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116" +
          "1ae10b594f09e26a7e902ecbd0600691",
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
        "null true",
      ])
    },
    60_000,
  )

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
    const withFlags = start(SIDECAR_NODE_FLAGS)
    expect(withFlags.status, withFlags.stderr).toBe(2)
    expect(withFlags.stderr).toMatch(
      /code cache for ESM \S+\/moved\/app\/sidecar\.mjs was accepted/,
    )
    // Other V8 flags: a miss, not an error. (--max-semi-space-size is not in V8's flag check, so
    // the healthcheck command, which runs without it, hits the cache too.)
    const other = start(["--optimize-for-size"])
    expect(other.status, other.stderr).toBe(2)
    expect(other.stderr).not.toMatch(/was accepted/)
  }, 60_000)
})
