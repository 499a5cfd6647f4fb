import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { loadOrCreateKey, openCertificate, peerIdOfKey, verifyChain } from "@beemesh/p2p"
import { Effect, Result } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { agentMembership } from "./MeshMembership"
import { makeSidecarChains, SIDECAR_REISSUE_AFTER, sidecarLifetimeMs } from "./SidecarCertificates"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "agent-chains-"))
  dirs.push(dir)
  return dir
}
const newKey = async () => Effect.runPromise(loadOrCreateKey(join(await tempDir(), "identity.key")))

const setup = async () => {
  const [identity, sidecar] = await Promise.all([newKey(), newKey()])
  const membership = await Effect.runPromise(
    agentMembership(
      {
        dataDir: await tempDir(),
        bootstrap: [],
        relays: undefined,
        meshAuthority: undefined,
        certificateFile: undefined,
      },
      identity,
    ),
  )
  const chains = makeSidecarChains(identity, membership)
  const peer = peerIdOfKey(sidecar)
  const chainAt = (
    now: number,
    change: {
      labels?: Record<string, string>
      generation?: string
      revocations?: string
      peer?: string
    } = {},
  ) =>
    Effect.runPromise(
      chains.chainFor(
        change.peer ?? peer,
        {
          namespace: "shop",
          workload: "web",
          pod: "web-0",
          generation: change.generation ?? "g1",
          labels: change.labels ?? { app: "web" },
        },
        10,
        change.revocations,
        now,
      ),
    )
  const serialOf = async (chain: ReadonlyArray<string>) => {
    const opened = await openCertificate(chain[1]!)
    if (Result.isFailure(opened)) throw opened.failure
    return opened.success.serial
  }
  return { chains, chainAt, serialOf, membership, peer }
}

const HALF = sidecarLifetimeMs(10) * SIDECAR_REISSUE_AFTER

describe("makeSidecarChains", () => {
  it("renewals within half the certificate's lifetime hand over the same chain, which still verifies", async () => {
    const { chainAt, membership, peer } = await setup()
    const t0 = Date.now()
    const first = await chainAt(t0)
    const again = await chainAt(t0 + HALF - 1)
    expect(again).toBe(first)
    const verified = await verifyChain(again, {
      authority: membership.authority,
      peer,
      now: t0 + HALF - 1,
    })
    if (Result.isFailure(verified)) throw verified.failure
    // At least half a lifetime (a renewal interval and a half) is left after every renewal.
    expect(verified.success.expiresAt - (t0 + HALF - 1)).toBeGreaterThanOrEqual(15_000 - 1)
  })

  it("once half the lifetime is used, the renewal brings a new certificate, valid a full lifetime", async () => {
    const { chainAt, serialOf, membership, peer } = await setup()
    const t0 = Date.now()
    const first = await chainAt(t0)
    const later = t0 + HALF
    const next = await chainAt(later)
    expect(await serialOf(next)).not.toBe(await serialOf(first))
    const verified = await verifyChain(next, { authority: membership.authority, peer, now: later })
    if (Result.isFailure(verified)) throw verified.failure
    expect(verified.success.expiresAt).toBe(later + 30_000)
    // And is then reused in its turn.
    expect(await chainAt(later + 1_000)).toBe(next)
  })

  it("a changed label re-signs at once, and the new certificate names the new labels", async () => {
    const { chainAt, serialOf, membership, peer } = await setup()
    const t0 = Date.now()
    const first = await chainAt(t0)
    const relabelled = await chainAt(t0 + 1_000, { labels: { app: "web", tier: "front" } })
    expect(await serialOf(relabelled)).not.toBe(await serialOf(first))
    const verified = await verifyChain(relabelled, {
      authority: membership.authority,
      peer,
      now: t0 + 1_000,
    })
    if (Result.isFailure(verified)) throw verified.failure
    expect(verified.success.workload?.labels).toEqual({ app: "web", tier: "front" })
  })

  it("a new generation of the pod (recreated) or a new sidecar peer id re-signs at once", async () => {
    const { chainAt, serialOf } = await setup()
    const t0 = Date.now()
    const first = await serialOf(await chainAt(t0))
    const recreated = await serialOf(await chainAt(t0 + 1_000, { generation: "g2" }))
    expect(recreated).not.toBe(first)
    const otherPeer = peerIdOfKey(await newKey())
    const chain = await chainAt(t0 + 2_000, { generation: "g2", peer: otherPeer })
    expect(await serialOf(chain)).not.toBe(recreated)
    const opened = await openCertificate(chain[1]!)
    if (Result.isFailure(opened)) throw opened.failure
    expect(opened.success.subject).toBe(otherPeer)
  })

  it("a new revocation list re-signs at the next renewal", async () => {
    const { chainAt, serialOf } = await setup()
    const t0 = Date.now()
    const first = await serialOf(await chainAt(t0))
    const withList = await chainAt(t0 + 1_000, { revocations: "list-1" })
    expect(await serialOf(withList)).not.toBe(first)
    expect(await chainAt(t0 + 2_000, { revocations: "list-1" })).toBe(withList)
    expect(await serialOf(await chainAt(t0 + 3_000, { revocations: "list-2" }))).not.toBe(
      await serialOf(withList),
    )
  })

  it("a clock set back re-signs rather than trusting the held certificate longer", async () => {
    const { chainAt, serialOf } = await setup()
    const t0 = Date.now()
    const first = await serialOf(await chainAt(t0))
    expect(await serialOf(await chainAt(t0 - 5_000))).not.toBe(first)
  })

  it("forgets the certificates of pods that went away once they expire", async () => {
    const { chains, chainAt } = await setup()
    const t0 = Date.now()
    await chainAt(t0)
    expect(chains.size()).toBe(1)
    // Another pod's renewal after the first one's certificate expired sweeps it.
    await Effect.runPromise(
      chains.chainFor(
        peerIdOfKey(await newKey()),
        { namespace: "shop", workload: "web", pod: "web-1", generation: "g", labels: {} },
        10,
        undefined,
        t0 + 30_000,
      ),
    )
    expect(chains.size()).toBe(1)
  })
})
