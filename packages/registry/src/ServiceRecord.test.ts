import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import * as DhtRecords from "./DhtRecords.js"
import * as Names from "./Names.js"
import * as ServiceRecord from "./ServiceRecord.js"
import * as SignedEnvelope from "./SignedEnvelope.js"

const NOW = 1_800_000_000_000
const name = { namespace: "prod", service: "orders" }

let alice: PrivateKey
let mallory: PrivateKey
beforeAll(async () => {
  alice = await generateKeyPair("Ed25519")
  mallory = await generateKeyPair("Ed25519")
})

const recordOf = (
  key: PrivateKey,
  overrides: Partial<ServiceRecord.ServiceRecord> = {},
): ServiceRecord.ServiceRecord => ({
  kind: "beemesh.service/v1",
  ...name,
  provider: peerIdFromPrivateKey(key).toString(),
  issuedAt: NOW,
  ttlMs: 60_000,
  sequence: 1,
  endpoints: [
    {
      workload: "orders",
      pod: "orders-0",
      multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
      ports: [{ name: "http", port: 80 }],
    },
  ],
  ...overrides,
})

const sign = (key: PrivateKey, record: ServiceRecord.ServiceRecord) =>
  Effect.runPromise(ServiceRecord.sign(key, record)).then((s) => s.bytes)

const keyFor = (record: ServiceRecord.ServiceRecord) =>
  Names.serviceRecordKey(record, record.provider)

const rejection = async (bytes: Uint8Array, now = NOW, key?: Uint8Array) => {
  const result = await ServiceRecord.verifyBytes(bytes, key === undefined ? { now } : { now, key })
  return Result.isFailure(result) ? result.failure.reason : "accepted"
}

describe("ServiceRecord", () => {
  it("round-trips a signed record", async () => {
    const record = recordOf(alice)
    const bytes = await sign(alice, record)
    const result = await ServiceRecord.verifyBytes(bytes, { now: NOW + 1000, key: keyFor(record) })
    expect(Result.isSuccess(result) && result.success.record).toEqual(record)
  })

  it("rejects a tampered payload", async () => {
    const bytes = await sign(alice, recordOf(alice))
    const envelope = JSON.parse(new TextDecoder().decode(bytes))
    const payload = JSON.parse(Buffer.from(envelope.payload, "base64").toString())
    payload.endpoints[0].ports[0].port = 22
    envelope.payload = Buffer.from(JSON.stringify(payload)).toString("base64")
    expect(await rejection(new TextEncoder().encode(JSON.stringify(envelope)))).toBe(
      "bad-signature",
    )
  })

  it("rejects a record signed by another peer's key", async () => {
    // Mallory signs a record that claims Alice as provider.
    const bytes = await sign(mallory, recordOf(alice))
    expect(await rejection(bytes)).toBe("wrong-key")
  })

  it("rejects a valid record replayed under another key", async () => {
    const record = recordOf(alice)
    const bytes = await sign(alice, record)
    const otherNamespace = Names.serviceRecordKey(
      { namespace: "dev", service: "orders" },
      record.provider,
    )
    expect(await rejection(bytes, NOW, otherNamespace)).toBe("key-mismatch")
    const otherProvider = Names.serviceRecordKey(name, peerIdFromPrivateKey(mallory).toString())
    expect(await rejection(bytes, NOW, otherProvider)).toBe("key-mismatch")
  })

  it("rejects expired and future-dated records", async () => {
    const bytes = await sign(alice, recordOf(alice))
    expect(await rejection(bytes, NOW + 60_000)).toBe("expired")
    expect(await rejection(bytes, NOW - ServiceRecord.MAX_CLOCK_SKEW_MS - 1)).toBe("future-dated")
    expect(await rejection(bytes, NOW - ServiceRecord.MAX_CLOCK_SKEW_MS + 1)).toBe("accepted")
  })

  it("rejects oversize and malformed envelopes", async () => {
    expect(await rejection(new Uint8Array(ServiceRecord.MAX_BYTES + 1))).toBe("oversize")
    expect(await rejection(new TextEncoder().encode("{not json"))).toBe("malformed")
    expect(await rejection(new TextEncoder().encode('{"v":1,"payload":"!!"}'))).toBe("malformed")
    const huge = recordOf(alice, {
      endpoints: Array.from({ length: ServiceRecord.MAX_ENDPOINTS }, (_, i) => ({
        workload: "w",
        pod: `p${i}`,
        multiaddrs: Array.from({ length: 16 }, () => `/ip4/127.0.0.1/tcp/${i}`),
        ports: [],
      })),
    })
    const error = await Effect.runPromise(Effect.flip(ServiceRecord.sign(alice, huge)))
    expect(error._tag).toBe("RecordTooLarge")
  })

  it("holds an agent's every replica of a service: 250 endpoints of realistic size", async () => {
    const peer = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
    const record = recordOf(alice, {
      endpoints: Array.from({ length: 250 }, (_, i) => ({
        workload: "a-deployment-with-a-long-name",
        pod: `bm-production-a-deployment-with-a-long-name-${i}`,
        multiaddrs: [
          `/ip4/192.168.100.200/tcp/${40000 + i}/p2p/${peer}`,
          `/ip6/fd00:1234:5678:9abc::1/tcp/${40000 + i}/p2p/${peer}`,
        ],
        ports: [{ name: "http", port: 8080 }],
      })),
    })
    expect(await rejection(await sign(alice, record))).toBe("accepted")
    const tooMany = recordOf(alice, {
      endpoints: Array.from({ length: ServiceRecord.MAX_ENDPOINTS + 1 }, (_, i) => ({
        workload: "w",
        pod: `p${i}`,
        multiaddrs: [],
        ports: [],
      })),
    })
    const error = await Effect.runPromise(Effect.flip(ServiceRecord.sign(alice, tooMany)))
    expect(error._tag).toBe("RecordRejected")
  })

  it("rejects a schema violation even when properly signed", async () => {
    // sign() refuses such a record, so seal the payload by hand as an attacker would.
    const bad = { ...recordOf(alice), namespace: "Bad/Name" }
    const sealed = await SignedEnvelope.seal(
      alice,
      ServiceRecord.DOMAIN,
      new TextEncoder().encode(JSON.stringify(bad)),
      ServiceRecord.MAX_BYTES,
    )
    expect(Result.isSuccess(sealed)).toBe(true)
    expect(await rejection(Result.getOrThrow(sealed))).toBe("malformed")
  })

  it("selects the newest record and validates through the DHT hooks", async () => {
    const v1 = await sign(alice, recordOf(alice, { sequence: 5 }))
    const v2 = await sign(alice, recordOf(alice, { sequence: 6, endpoints: [] }))
    const key = keyFor(recordOf(alice))
    const select = DhtRecords.selectors()["beemesh-svc"]!
    expect(await select(key, [v1, v2])).toBe(1)
    expect(await select(key, [v2, v1, new Uint8Array([1, 2])])).toBe(0)
    const validate = DhtRecords.validators(() => NOW)["beemesh-svc"]!
    await expect(Promise.resolve(validate(key, v1))).resolves.toBeUndefined()
    const forged = await sign(mallory, recordOf(alice))
    await expect(Promise.resolve(validate(key, forged))).rejects.toMatchObject({
      reason: "wrong-key",
    })
    const expiredCheck = DhtRecords.validators(() => NOW + 120_000)["beemesh-svc"]!
    await expect(Promise.resolve(expiredCheck(key, v1))).rejects.toMatchObject({
      reason: "expired",
    })
  })
})

describe("ServiceRecord.sign", () => {
  it("refuses to sign a record that verifiers would reject", async () => {
    const bad = recordOf(alice, {
      endpoints: [{ workload: "w", pod: "p", multiaddrs: [], ports: [{ port: 0 }] }],
    })
    const error = await Effect.runPromise(Effect.flip(ServiceRecord.sign(alice, bad)))
    expect(error._tag === "RecordRejected" && error.reason).toBe("malformed")
  })
})
