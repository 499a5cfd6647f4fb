import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as DhtRecords from "./DhtRecords.js"
import * as ManifestRecord from "./ManifestRecord.js"
import * as Names from "./Names.js"
import * as ServiceRecord from "./ServiceRecord.js"
import * as SignedEnvelope from "./SignedEnvelope.js"

describe("ManifestRecord", () => {
  it("signs, verifies, binds to its key and picks the newest", async () => {
    const key = await generateKeyPair("Ed25519")
    const other = await generateKeyPair("Ed25519")
    const base: ManifestRecord.ManifestRecord = {
      kind: "beemesh.manifest/v1",
      namespace: "prod",
      name: "web",
      publisher: peerIdFromPrivateKey(key).toString(),
      issuedAt: 1000,
      sequence: 1,
      ttlMs: 60_000,
      content: "kind: Pod",
    }
    const dhtKey = Names.manifestKey("prod", "web")
    const v1 = await Effect.runPromise(ManifestRecord.sign(key, base))
    const v2 = await Effect.runPromise(
      ManifestRecord.sign(key, { ...base, sequence: 2, content: "kind: Deployment" }),
    )
    const ok = await ManifestRecord.verifyBytes(v2, { now: 2000, key: dhtKey })
    expect(Result.isSuccess(ok) && ok.success.content).toBe("kind: Deployment")
    const moved = await ManifestRecord.verifyBytes(v1, {
      now: 2000,
      key: Names.manifestKey("prod", "api"),
    })
    expect(Result.isFailure(moved) && moved.failure.reason).toBe("key-mismatch")
    const forged = await Effect.runPromise(ManifestRecord.sign(other, base))
    const wrong = await ManifestRecord.verifyBytes(forged, { now: 2000 })
    expect(Result.isFailure(wrong) && wrong.failure.reason).toBe("wrong-key")
    const select = DhtRecords.selectors()["beemesh-manifest"]!
    expect(await select(dhtKey, [v1, v2])).toBe(1)
    expect(await select(dhtKey, [v2, v1])).toBe(0)
    // A service-record signature can never pass as a manifest: different signature domain.
    const asService = await SignedEnvelope.open(v1, ServiceRecord.DOMAIN, 1 << 20)
    expect(Result.isFailure(asService) && asService.failure.reason).toBe("bad-signature")
  })

  it("refuses a sequence beyond now plus the clock skew: a huge sequence cannot lock a manifest", async () => {
    const key = await generateKeyPair("Ed25519")
    const now = 1_700_000_000_000
    const record: ManifestRecord.ManifestRecord = {
      kind: "beemesh.manifest/v1",
      namespace: "prod",
      name: "web",
      publisher: peerIdFromPrivateKey(key).toString(),
      issuedAt: now,
      sequence: 2 ** 53 - 1,
      ttlMs: 60_000,
      content: "kind: Pod",
    }
    const huge = await Effect.runPromise(ManifestRecord.sign(key, record))
    const refused = await ManifestRecord.verifyBytes(huge, { now })
    expect(Result.isFailure(refused) && refused.failure.reason).toBe("future-dated")
    expect(Result.isFailure(refused) && refused.failure.message).toMatch(
      /sequence 9007199254740991 lies .* ms ahead \(sequences are times in ms; allowed skew 30000 ms\)/,
    )
    const atEdge = await Effect.runPromise(
      ManifestRecord.sign(key, { ...record, sequence: now + ManifestRecord.MAX_CLOCK_SKEW_MS }),
    )
    expect(Result.isSuccess(await ManifestRecord.verifyBytes(atEdge, { now }))).toBe(true)
    const validate = DhtRecords.validators(() => now)["beemesh-manifest"]!
    await expect(validate(Names.manifestKey("prod", "web"), huge)).rejects.toMatchObject({
      reason: "future-dated",
    })
  })
})
