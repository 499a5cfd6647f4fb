import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadKey, peerIdOfKey, verifyChain, verifyRevocations } from "@beemesh/p2p"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { meshCertify, meshInit, meshRevoke } from "./MeshCommands"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

const PEER = "12D3KooWA5WvmLtbRyfaPHzYBgMuD8kVFr7Ek5khaKPBB6A4jRE2"
const OTHER = "12D3KooWBizUHYeeaTVbqVXEbtvknQqajxN5iL3yz1ivbL7pdC7c"

describe("beemesh-agent mesh", () => {
  it("init writes the mesh key and the authority key (0600) and names the authority; certify and revoke sign with it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agent-mesh-cmd-"))
    dirs.push(dir)
    const authorityKeyPath = join(dir, "mesh-authority.key")
    const printed = await Effect.runPromise(meshInit(join(dir, "mesh.key"), authorityKeyPath))
    const authority = peerIdOfKey(await Effect.runPromise(loadKey(authorityKeyPath)))
    expect(printed).toContain(`mesh authority ${authority}`)
    expect((await stat(authorityKeyPath)).mode & 0o777).toBe(0o600)

    const certificateFile = join(dir, "agent.cert")
    const now = Date.now()
    expect(
      await Effect.runPromise(meshCertify(authorityKeyPath, PEER, 30, certificateFile, now)),
    ).toContain(`written to ${certificateFile}`)
    const certificate = (await readFile(certificateFile, "utf8")).trim()
    const verified = await verifyChain([certificate], { authority, peer: PEER, now })
    if (Result.isFailure(verified)) throw verified.failure
    expect(verified.success.expiresAt).toBe(now + 30 * 24 * 60 * 60 * 1000)

    const first = join(dir, "revoked-1")
    await Effect.runPromise(meshRevoke(authorityKeyPath, [PEER], [], undefined, first, now))
    const second = (
      await Effect.runPromise(meshRevoke(authorityKeyPath, [OTHER], ["s-1"], first, undefined, now))
    ).trim()
    const opened = await verifyRevocations(second, authority)
    if (Result.isFailure(opened)) throw opened.failure
    // The new list keeps the earlier one's entries and is newer than it.
    expect(opened.success.subjects).toEqual([PEER, OTHER])
    expect(opened.success.serials).toEqual(["s-1"])
    expect(opened.success.issuedAt).toBeGreaterThan(now)
  })

  it("a missing authority key is refused, saying where it comes from", async () => {
    const error = await Effect.runPromise(
      Effect.flip(meshCertify("/nonexistent/mesh-authority.key", PEER, 1, undefined)),
    )
    expect(error._tag).toBe("ConfigInvalid")
    expect(error.message).toContain("mesh init writes the authority key")
  })
})
