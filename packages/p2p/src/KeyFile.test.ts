import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { loadKey, loadOrCreateKey } from "./KeyFile.js"

const dirs: string[] = []
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "beemesh-registry-key-"))
  dirs.push(dir)
  return dir
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

describe("key file", () => {
  it("creates a key with mode 0600 and reads the same identity back", async () => {
    const path = join(await tempDir(), "nested", "node.key")
    const first = await Effect.runPromise(loadOrCreateKey(path))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    const second = await Effect.runPromise(loadOrCreateKey(path))
    expect(second.equals(first)).toBe(true)
  })

  it("refuses a key file readable by others, saying how to fix it", async () => {
    const path = join(await tempDir(), "node.key")
    await Effect.runPromise(loadOrCreateKey(path))
    await chmod(path, 0o644)
    const error = await Effect.runPromise(Effect.flip(loadOrCreateKey(path)))
    expect(error._tag).toBe("KeyFileError")
    expect(error.message).toContain("chmod 600")
  })

  it("refuses a file that is not a key", async () => {
    const path = join(await tempDir(), "node.key")
    await writeFile(path, "garbage", { mode: 0o600 })
    const error = await Effect.runPromise(Effect.flip(loadOrCreateKey(path)))
    expect(error.message).toContain("does not hold a libp2p private key")
  })
})

describe("a key handed over by another process", () => {
  it("is read whatever its mode, and never created", async () => {
    const dir = await tempDir()
    const path = join(dir, "workload.key")
    const key = await Effect.runPromise(loadOrCreateKey(path))
    await chmod(path, 0o644)
    expect((await Effect.runPromise(loadKey(path))).equals(key)).toBe(true)
    const missing = await Effect.runPromise(Effect.flip(loadKey(join(dir, "absent.key"))))
    expect(missing._tag).toBe("KeyFileError")
    expect(missing.message).toContain("absent.key")
    expect(missing.message).toContain("ENOENT")
  })

  it("is refused when the file holds no key", async () => {
    const path = join(await tempDir(), "garbage.key")
    await writeFile(path, "garbage")
    const error = await Effect.runPromise(Effect.flip(loadKey(path)))
    expect(error.message).toContain("does not hold a libp2p private key")
  })
})
