import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  createMeshKeyFile,
  formatMeshKey,
  generateMeshKey,
  loadMeshKeyFile,
  loadOrCreateMeshKeyFile,
  parseMeshKey,
} from "./MeshKey.js"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "beemesh-meshkey-"))
  dirs.push(dir)
  return dir
}

describe("MeshKey", () => {
  it("round-trips through the swarm key format and through its hex digits alone", () => {
    const key = generateMeshKey()
    expect(formatMeshKey(key)).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
    expect(Result.getOrThrow(parseMeshKey(formatMeshKey(key)))).toEqual(key)
    expect(Result.getOrThrow(parseMeshKey(key.hex.toUpperCase()))).toEqual(key)
    expect(generateMeshKey()).not.toEqual(key)
  })

  it("never shows the secret when printed, only a fingerprint", () => {
    const key = generateMeshKey()
    expect(String(key)).toBe(`MeshKey(${key.fingerprint})`)
    expect(JSON.stringify({ key })).not.toContain(key.hex)
    expect(key.fingerprint).toMatch(/^[0-9a-f]{16}$/)
  })

  it.each([
    ["empty", ""],
    ["too short", "ab".repeat(31)],
    ["not hex", "zz".repeat(32)],
    ["wrong header", `/key/swarm/psk/2.0.0/\n/base16/\n${"ab".repeat(32)}`],
    ["wrong codec", `/key/swarm/psk/1.0.0/\n/base64/\n${"ab".repeat(32)}`],
  ])("refuses a malformed key (%s) saying what is expected", (_, text) => {
    const parsed = parseMeshKey(text)
    expect(Result.isFailure(parsed) && parsed.failure).toMatch(/expected a swarm key.*mesh init/)
  })

  it("creates a key file with mode 0600, never overwrites it, and reads it back", async () => {
    const path = join(await tempDir(), "sub", "mesh.key")
    const created = await Effect.runPromise(createMeshKeyFile(path))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await readFile(path, "utf8")).toBe(formatMeshKey(created))
    const again = await Effect.runPromise(Effect.flip(createMeshKeyFile(path)))
    expect(again.message).toMatch(/exists already; a mesh key is never overwritten/)
    expect(await Effect.runPromise(loadMeshKeyFile(path))).toEqual(created)
    expect(await Effect.runPromise(loadOrCreateMeshKeyFile(path))).toEqual(created)
  })

  it("loadOrCreate makes the file when missing; load refuses a missing file naming the fix", async () => {
    const dir = await tempDir()
    const made = await Effect.runPromise(loadOrCreateMeshKeyFile(join(dir, "a.key")))
    expect(await Effect.runPromise(loadMeshKeyFile(join(dir, "a.key")))).toEqual(made)
    const missing = await Effect.runPromise(Effect.flip(loadMeshKeyFile(join(dir, "b.key"))))
    expect(missing.message).toMatch(
      /b\.key: does not exist; create one with "beemesh-agent mesh init/,
    )
  })

  it("refuses a key file readable by others, and one that holds no key", async () => {
    const dir = await tempDir()
    const open = join(dir, "open.key")
    await writeFile(open, formatMeshKey(generateMeshKey()))
    await chmod(open, 0o644)
    const error = await Effect.runPromise(Effect.flip(loadMeshKeyFile(open)))
    expect(error.message).toMatch(/accessible by group or others \(mode 644\); run chmod 600/)
    const junk = join(dir, "junk.key")
    await writeFile(junk, "hello", { mode: 0o600 })
    const bad = await Effect.runPromise(Effect.flip(loadMeshKeyFile(junk)))
    expect(bad.message).toMatch(/junk\.key: expected a swarm key/)
  })
})
