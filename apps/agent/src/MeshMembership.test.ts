import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { formatMeshKey, generateMeshKey } from "@beemesh/p2p"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { agentMeshKey } from "./MeshMembership"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "agent-mesh-"))
  dirs.push(dir)
  return dir
}
const alone = (dataDir: string) => ({
  dataDir,
  bootstrap: [],
  relays: undefined,
  meshKeyFile: undefined,
})

describe("agentMeshKey", () => {
  it("without a given key: the agent's own in <dataDir>/mesh.key, created once (mode 0600) and kept", async () => {
    const dataDir = await tempDir()
    const first = await Effect.runPromise(agentMeshKey(alone(dataDir)))
    expect((await stat(join(dataDir, "mesh.key"))).mode & 0o777).toBe(0o600)
    expect(await readFile(join(dataDir, "mesh.key"), "utf8")).toBe(formatMeshKey(first))
    expect(await Effect.runPromise(agentMeshKey(alone(dataDir)))).toEqual(first)
  })

  it("a given key file is used as it is", async () => {
    const dir = await tempDir()
    const key = generateMeshKey()
    const meshKeyFile = join(dir, "shared.key")
    await writeFile(meshKeyFile, formatMeshKey(key), { mode: 0o600 })
    const bootstrap = ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWabc"]
    expect(
      await Effect.runPromise(agentMeshKey({ ...alone(dir), bootstrap, meshKeyFile })),
    ).toEqual(key)
  })

  it("a given key file that is missing is refused, not created", async () => {
    const dir = await tempDir()
    const meshKeyFile = join(dir, "typo.key")
    const error = await Effect.runPromise(Effect.flip(agentMeshKey({ ...alone(dir), meshKeyFile })))
    expect(error.message).toContain(`${meshKeyFile}: does not exist; create one with`)
  })

  it("joining other agents without a given key is refused, saying how to get one", async () => {
    const dir = await tempDir()
    for (const joining of [
      { bootstrap: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWabc"] },
      { relays: ["/ip4/10.77.0.11/tcp/4001/p2p/12D3KooWabc"] },
    ]) {
      const error = await Effect.runPromise(
        Effect.flip(agentMeshKey({ ...alone(dir), ...joining })),
      )
      expect(error.message).toMatch(
        /configuration meshKey: joining other agents .*beemesh-agent mesh init.*--mesh-key FILE/,
      )
    }
  })
})
