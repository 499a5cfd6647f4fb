import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  formatMeshKey,
  generateMeshKey,
  issueCertificate,
  loadOrCreateKey,
  peerIdOfKey,
  verifyChain,
} from "@beemesh/p2p"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { agentMembership, agentMeshKey } from "./MeshMembership"
import { sidecarChain, sidecarLifetimeMs } from "./SidecarCertificates"

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

/** A fresh Ed25519 key (the agent takes libp2p's keys through @beemesh/p2p). */
const newKey = async () => Effect.runPromise(loadOrCreateKey(join(await tempDir(), "identity.key")))

describe("agentMembership", () => {
  const membershipOf = (dataDir: string, extra: Record<string, unknown> = {}) => ({
    dataDir,
    bootstrap: [] as ReadonlyArray<string>,
    relays: undefined,
    meshAuthority: undefined,
    certificateFile: undefined,
    ...extra,
  })

  it("alone: its own authority in <dataDir>/mesh-authority.key (mode 0600, kept) certifies this agent", async () => {
    const dataDir = await tempDir()
    const identity = await newKey()
    const first = await Effect.runPromise(agentMembership(membershipOf(dataDir), identity))
    expect((await stat(join(dataDir, "mesh-authority.key"))).mode & 0o777).toBe(0o600)
    const verified = await verifyChain([first.certificate], {
      authority: first.authority,
      peer: peerIdOfKey(identity),
      now: Date.now(),
    })
    expect(Result.isSuccess(verified)).toBe(true)
    const again = await Effect.runPromise(agentMembership(membershipOf(dataDir), identity))
    expect(again.authority).toBe(first.authority)
  })

  it("a given authority and certificate are checked against this agent's identity", async () => {
    const dir = await tempDir()
    const [authority, identity, other] = await Promise.all([newKey(), newKey(), newKey()])
    const certify = (subject: string) =>
      Effect.runPromise(
        issueCertificate(authority, {
          role: "agent",
          subject,
          serial: "serial-0001",
          notBefore: Date.now() - 1000,
          notAfter: Date.now() + 60_000,
        }),
      )
    const certificateFile = join(dir, "agent.cert")
    await writeFile(certificateFile, `${await certify(peerIdOfKey(identity))}\n`)
    const given = {
      bootstrap: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWabc"],
      meshAuthority: peerIdOfKey(authority),
      certificateFile,
    }
    const membership = await Effect.runPromise(agentMembership(membershipOf(dir, given), identity))
    expect(membership.authority).toBe(peerIdOfKey(authority))
    // Another agent's certificate: refused, saying how to get the right one.
    await writeFile(certificateFile, await certify(peerIdOfKey(other)))
    const wrong = await Effect.runPromise(
      Effect.flip(agentMembership(membershipOf(dir, given), identity)),
    )
    expect(wrong.message).toContain("wrong-subject")
    expect(wrong.message).toContain(
      `mesh certify --authority-key FILE --peer-id ${peerIdOfKey(identity)}`,
    )
    // One without the other: refused.
    const half = await Effect.runPromise(
      Effect.flip(
        agentMembership(membershipOf(dir, { meshAuthority: peerIdOfKey(authority) }), identity),
      ),
    )
    expect(half.message).toContain("--mesh-authority and --certificate go together")
  })

  it("joining other agents without a certificate is refused, saying how to get one", async () => {
    const dir = await tempDir()
    const identity = await newKey()
    const error = await Effect.runPromise(
      Effect.flip(
        agentMembership(
          membershipOf(dir, { relays: ["/ip4/10.77.0.11/tcp/4001/p2p/12D3KooWabc"] }),
          identity,
        ),
      ),
    )
    expect(error._tag).toBe("ConfigInvalid")
    expect(error.message).toMatch(/configuration certificate: joining other agents .*mesh certify/)
  })
})

describe("sidecarChain", () => {
  it("chains the agent's certificate to one for the sidecar's peer and workload, three renewals long", async () => {
    const dataDir = await tempDir()
    const [identity, sidecar] = await Promise.all([newKey(), newKey()])
    const membership = await Effect.runPromise(
      agentMembership(
        {
          dataDir,
          bootstrap: [],
          relays: undefined,
          meshAuthority: undefined,
          certificateFile: undefined,
        },
        identity,
      ),
    )
    const now = Date.now()
    const workload = {
      namespace: "shop",
      workload: "web",
      pod: "web-0",
      generation: "1",
      labels: { app: "web" },
    }
    const chain = await Effect.runPromise(
      sidecarChain(identity, membership, peerIdOfKey(sidecar), workload, 10, now),
    )
    const verified = await verifyChain(chain, {
      authority: membership.authority,
      peer: peerIdOfKey(sidecar),
      now,
    })
    if (Result.isFailure(verified)) throw verified.failure
    expect(verified.success).toMatchObject({
      role: "sidecar",
      agent: peerIdOfKey(identity),
      workload,
    })
    expect(verified.success.expiresAt).toBe(now + 30_000)
    expect(sidecarLifetimeMs(3600)).toBe(60 * 60 * 1000)
  })
})
