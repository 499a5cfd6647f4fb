import type { CertificateRequest, Revoked } from "@beemesh/p2p"
import type { PrivateKey } from "@libp2p/interface"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { certify as certifyAt, idOf, newKeys } from "../test/support/certificates.js"
import * as DhtRecords from "./DhtRecords.js"
import * as ManifestRecord from "./ManifestRecord.js"
import * as Names from "./Names.js"
import { admit, type MembershipPolicy, stillMember } from "./Provenance.js"
import * as ServiceRecord from "./ServiceRecord.js"

const NOW = 1_800_000_000_000
const HOUR = 60 * 60 * 1000

let authority: PrivateKey
let otherAuthority: PrivateKey
let agent: PrivateKey
let rogue: PrivateKey
let sidecar: PrivateKey
let agentCert: string
let policy: MembershipPolicy
let revoked: Revoked

beforeAll(async () => {
  const keys = await newKeys(5)
  ;[authority, otherAuthority, agent, rogue, sidecar] = keys as [
    PrivateKey,
    PrivateKey,
    PrivateKey,
    PrivateKey,
    PrivateKey,
  ]
  agentCert = await certify(authority, agent)
  revoked = { serials: new Set(), subjects: new Set() }
  policy = { authority: idOf(authority), revoked: () => revoked }
})

const certify = (
  issuer: PrivateKey,
  subject: PrivateKey,
  overrides: Partial<CertificateRequest> = {},
) => certifyAt(issuer, subject, NOW, overrides)

const serviceRecord = (key: PrivateKey, certificate?: string): ServiceRecord.ServiceRecord => ({
  kind: "beemesh.service/v1",
  namespace: "prod",
  service: "orders",
  provider: idOf(key),
  issuedAt: NOW,
  ttlMs: 60_000,
  sequence: 1,
  endpoints: [{ workload: "orders", pod: "orders-0", multiaddrs: [], ports: [{ port: 80 }] }],
  ...(certificate === undefined ? {} : { certificate }),
})

const signService = (key: PrivateKey, certificate?: string) =>
  Effect.runPromise(ServiceRecord.sign(key, serviceRecord(key, certificate))).then((s) => s.bytes)

const serviceVerdict = async (
  bytes: Uint8Array,
  withPolicy: MembershipPolicy | "none" = policy,
) => {
  const result = await ServiceRecord.verifyBytes(
    bytes,
    withPolicy === "none" ? { now: NOW } : { now: NOW, membership: withPolicy },
  )
  return Result.isFailure(result) ? result.failure.reason : "accepted"
}

describe("provenance of service records", () => {
  it("a member agent's record with its certificate is accepted, and says who the member is", async () => {
    const result = await ServiceRecord.verifyBytes(await signService(agent, agentCert), {
      now: NOW,
      membership: policy,
    })
    expect(Result.isSuccess(result) && result.success.member).toMatchObject({
      role: "agent",
      agent: idOf(agent),
      expiresAt: NOW + HOUR,
    })
  })

  it("each way of not being a member is refused with its own reason", async () => {
    // A fresh key with a valid envelope and no certificate.
    expect(await serviceVerdict(await signService(rogue))).toBe("uncertified")
    // A member's certificate copied into a record signed by another key.
    expect(await serviceVerdict(await signService(rogue, agentCert))).toBe("not-a-member")
    // A certificate from another mesh's authority.
    expect(
      await serviceVerdict(await signService(rogue, await certify(otherAuthority, rogue))),
    ).toBe("foreign-authority")
    // An expired agent certificate.
    const expired = await certify(authority, rogue, {
      notBefore: NOW - 2 * HOUR,
      notAfter: NOW - 1,
    })
    expect(await serviceVerdict(await signService(rogue, expired))).toBe("membership-expired")
    // A sidecar certificate cannot sign records: only agents publish.
    const sidecarCert = await certify(agent, sidecar, {
      role: "sidecar",
      notBefore: NOW - 1000,
      notAfter: NOW + 1000,
      workload: {
        namespace: "prod",
        workload: "orders",
        pod: "orders-0",
        generation: "1",
        labels: {},
      },
    })
    expect(await serviceVerdict(await signService(sidecar, sidecarCert))).toBe("not-a-member")
    // Without a membership policy the same uncertified record is accepted (meshes without one).
    expect(await serviceVerdict(await signService(rogue), "none")).toBe("accepted")
  })

  it("a revoked agent is refused, by subject or by serial, as soon as the list says so", async () => {
    const bytes = await signService(agent, agentCert)
    revoked = { serials: new Set(), subjects: new Set([idOf(agent)]) }
    expect(await serviceVerdict(bytes)).toBe("revoked")
    revoked = { serials: new Set([`serial-${idOf(agent).slice(-8)}`]), subjects: new Set() }
    expect(await serviceVerdict(bytes)).toBe("revoked")
    revoked = { serials: new Set(), subjects: new Set() }
    expect(await serviceVerdict(bytes)).toBe("accepted")
  })

  it("stillMember re-checks an admitted member against a later list and the certificate's end", async () => {
    const admitted = await admit(agentCert, idOf(agent), policy, NOW)
    if (Result.isFailure(admitted)) throw admitted.failure
    const member = admitted.success
    expect(stillMember(member, policy, NOW)).toBe(true)
    expect(stillMember(member, policy, NOW + HOUR)).toBe(false)
    revoked = { serials: new Set(), subjects: new Set([idOf(agent)]) }
    expect(stillMember(member, policy, NOW)).toBe(false)
    revoked = { serials: new Set(member.serials), subjects: new Set() }
    expect(stillMember(member, policy, NOW)).toBe(false)
    revoked = { serials: new Set(), subjects: new Set() }
  })

  it("the DHT validator refuses a non-member's put before counting it against any quota", async () => {
    const validate = DhtRecords.validators(() => NOW, { maxRecords: 1, maxBytes: 1 << 20 }, policy)[
      Names.SERVICE_PREFIX
    ]!
    const rogueRecord = serviceRecord(rogue)
    const refused = await Promise.resolve(
      validate(Names.serviceRecordKey(rogueRecord, rogueRecord.provider), await signService(rogue)),
    ).then(
      () => "stored",
      (error: { reason?: string }) => error.reason,
    )
    expect(refused).toBe("uncertified")
    // The member's record fits the quota of one: the rogue's refused put counted for nothing.
    const mine = serviceRecord(agent)
    await expect(
      validate(Names.serviceRecordKey(mine, mine.provider), await signService(agent, agentCert)),
    ).resolves.toBeUndefined()
  })

  it("a record with a certificate stays within MAX_BYTES", async () => {
    const bytes = await signService(agent, agentCert)
    expect(agentCert.length).toBeLessThan(600)
    expect(bytes.length).toBeLessThan(ServiceRecord.MAX_BYTES)
  })
})

describe("provenance and lifetime of manifests", () => {
  const manifest = (
    key: PrivateKey,
    overrides: Partial<ManifestRecord.ManifestRecord> = {},
  ): ManifestRecord.ManifestRecord => ({
    kind: "beemesh.manifest/v1",
    namespace: "prod",
    name: "web",
    publisher: idOf(key),
    issuedAt: NOW,
    sequence: NOW,
    ttlMs: 60_000,
    content: "kind: Pod",
    ...overrides,
  })
  const verdict = async (record: ManifestRecord.ManifestRecord, key: PrivateKey, now = NOW) => {
    const bytes = await Effect.runPromise(ManifestRecord.sign(key, record))
    const result = await ManifestRecord.verifyBytes(bytes, {
      now,
      key: Names.manifestKey("prod", "web"),
      membership: policy,
    })
    return Result.isFailure(result) ? result.failure.reason : "accepted"
  }

  it("only member agents publish: a member's manifest is accepted, an outsider's refused", async () => {
    expect(await verdict(manifest(agent, { certificate: agentCert }), agent)).toBe("accepted")
    expect(await verdict(manifest(rogue), rogue)).toBe("uncertified")
    expect(await verdict(manifest(rogue, { certificate: agentCert }), rogue)).toBe("not-a-member")
  })

  it("a manifest expires at issuedAt + ttlMs, and a huge sequence stays refused", async () => {
    const record = manifest(agent, { certificate: agentCert })
    expect(await verdict(record, agent, NOW + 59_999)).toBe("accepted")
    expect(await verdict(record, agent, NOW + 60_000)).toBe("expired")
    expect(await verdict({ ...record, sequence: 2 ** 53 - 1 }, agent)).toBe("future-dated")
    // A lifetime beyond the bound is malformed: nobody keeps a manifest alive for a year.
    expect(await verdict({ ...record, ttlMs: 365 * 24 * HOUR }, agent)).toBe("malformed")
  })
})
