import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import * as DhtRecords from "./DhtRecords.js"
import { SignerQuota } from "./internal/SignerQuota.js"
import * as ManifestRecord from "./ManifestRecord.js"
import * as Names from "./Names.js"

describe("SignerQuota", () => {
  it("counts distinct keys and their bytes per signer; a new version of a key replaces its size", () => {
    const quota = new SignerQuota({ maxRecords: 2, maxBytes: 100 })
    expect(quota.admit("a", "k1", 40)).toBeUndefined()
    expect(quota.admit("a", "k1", 50)).toBeUndefined()
    expect(quota.admit("a", "k2", 50)).toBeUndefined()
    expect(quota.admit("a", "k3", 1)).toMatch(/signer a already has 2 records here \(limit 2\)/)
    expect(quota.admit("a", "k2", 51)).toMatch(/would have 101 bytes of records here \(limit 100\)/)
    // A refusal counted nothing, and other signers have their own share.
    expect(quota.admit("a", "k2", 50)).toBeUndefined()
    expect(quota.admit("b", "k1", 100)).toBeUndefined()
  })
})

describe("DhtRecords validators with a signer quota", () => {
  it("refuse a signer's records beyond its quota as over-quota, and still take other signers'", async () => {
    const mallory = await generateKeyPair("Ed25519")
    const honest = await generateKeyPair("Ed25519")
    const now = 1_700_000_000_000
    const validate = DhtRecords.validators(() => now, { maxRecords: 3, maxBytes: 1 << 20 })[
      "beemesh-manifest"
    ]!
    const manifest = async (key: typeof mallory, name: string) => {
      const record: ManifestRecord.ManifestRecord = {
        kind: "beemesh.manifest/v1",
        namespace: "prod",
        name,
        publisher: peerIdFromPrivateKey(key).toString(),
        issuedAt: now,
        sequence: now,
        ttlMs: 60_000,
        content: "x".repeat(1000),
      }
      return [
        Names.manifestKey("prod", name),
        await Effect.runPromise(ManifestRecord.sign(key, record)),
      ] as const
    }
    for (const name of ["a", "b", "c"]) await validate(...(await manifest(mallory, name)))
    await expect(validate(...(await manifest(mallory, "d")))).rejects.toMatchObject({
      reason: "over-quota",
    })
    // The records already counted stay valid (a re-read is no new record).
    await validate(...(await manifest(mallory, "a")))
    await validate(...(await manifest(honest, "d")))
  })
})
