import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  issuePodToken,
  loadOrCreateSecret,
  newGeneration,
  verifyPodCredential,
  verifyPodToken,
} from "./Tokens"

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "beemesh-tokens-"))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe("loadOrCreateSecret", () => {
  it("creates a 0600 secret once and reads the same one back", async () => {
    const path = join(dir, "state", "operator-token")
    const first = await Effect.runPromise(loadOrCreateSecret(path))
    expect(first).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await Effect.runPromise(loadOrCreateSecret(path))).toBe(first)
    expect((await readFile(path, "utf8")).trim()).toBe(first)
  })

  it("makes secrets that cannot be read as a command-line option, and keeps an older one as it is", async () => {
    for (let i = 0; i < 200; i++) {
      const secret = await Effect.runPromise(loadOrCreateSecret(join(dir, "many", `token-${i}`)))
      expect(secret.startsWith("-")).toBe(false)
    }
    // An agent before this change wrote base64url secrets, some starting with "-": still read.
    const older = join(dir, "older-token")
    await writeFile(older, `-${"A".repeat(42)}\n`, { mode: 0o600 })
    expect(await Effect.runPromise(loadOrCreateSecret(older))).toBe(`-${"A".repeat(42)}`)
  })

  it("refuses a secret file others can read, saying how to fix it", async () => {
    const path = join(dir, "operator-token")
    await writeFile(path, "x".repeat(43))
    await chmod(path, 0o644)
    const exit = await Effect.runPromiseExit(loadOrCreateSecret(path))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(exit)).toMatch(/mode is 644; .*chmod 600/)
  })
})

describe("pod tokens", () => {
  const identity = { namespace: "shop", workload: "orders", pod: "orders-0" }

  it("verifies a token it issued and returns the identity", () => {
    const token = issuePodToken("k".repeat(43), identity)
    expect(verifyPodToken("k".repeat(43), token)).toEqual(identity)
  })

  it("rejects a token signed with another key, a tampered payload and garbage", () => {
    const token = issuePodToken("k".repeat(43), identity)
    expect(verifyPodToken("j".repeat(43), token)).toBeUndefined()
    const [, signature] = token.split(".")
    const forged = Buffer.from(JSON.stringify(["shop", "payments", "orders-0"])).toString(
      "base64url",
    )
    expect(verifyPodToken("k".repeat(43), `${forged}.${signature}`)).toBeUndefined()
    expect(verifyPodToken("k".repeat(43), "not-a-token")).toBeUndefined()
    expect(verifyPodToken("k".repeat(43), `${token}.extra`)).toBeUndefined()
  })
})

describe("pod tokens bound to a generation", () => {
  const identity = { namespace: "shop", workload: "orders", pod: "orders-0" }
  const key = "k".repeat(43)

  it("carry the generation they were issued for, under the signature", () => {
    const generation = newGeneration()
    const token = issuePodToken(key, identity, generation)
    expect(verifyPodCredential(key, token)).toEqual({ identity, generation })
    const [, signature] = token.split(".")
    const other = Buffer.from(JSON.stringify(["shop", "orders", "orders-0", "g2"])).toString(
      "base64url",
    )
    expect(verifyPodCredential(key, `${other}.${signature}`)).toBeUndefined()
  })

  it("a token from before generations has the empty one", () => {
    expect(verifyPodCredential(key, issuePodToken(key, identity))).toEqual({
      identity,
      generation: "",
    })
  })

  it("generations are fresh each time", () => {
    const drawn = new Set(Array.from({ length: 1000 }, newGeneration))
    expect(drawn.size).toBe(1000)
  })
})
