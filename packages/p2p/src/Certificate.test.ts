import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import {
  type CertificateRequest,
  issueCertificate,
  issueRevocations,
  MAX_SIDECAR_LIFETIME_MS,
  openCertificate,
  revokedSet,
  verifyChain,
  verifyRevocations,
} from "./Certificate.js"

const NOW = 1_800_000_000_000
const HOUR = 60 * 60 * 1000
const idOf = (key: PrivateKey) => peerIdFromPrivateKey(key as never).toString()

let authority: PrivateKey
let agent: PrivateKey
let sidecar: PrivateKey
let stranger: PrivateKey

beforeAll(async () => {
  ;[authority, agent, sidecar, stranger] = await Promise.all([
    generateKeyPair("Ed25519"),
    generateKeyPair("Ed25519"),
    generateKeyPair("Ed25519"),
    generateKeyPair("Ed25519"),
  ])
})

const issue = (key: PrivateKey, request: CertificateRequest) =>
  Effect.runPromise(issueCertificate(key, request))
const issueResult = (key: PrivateKey, request: CertificateRequest) =>
  Effect.runPromise(Effect.result(issueCertificate(key, request)))

const agentRequest = (overrides: Partial<CertificateRequest> = {}): CertificateRequest => ({
  role: "agent",
  subject: idOf(agent),
  serial: "agent-serial-1",
  notBefore: NOW - HOUR,
  notAfter: NOW + 24 * HOUR,
  ...overrides,
})
const workload = {
  namespace: "shop",
  workload: "orders",
  pod: "bm-shop-orders-0",
  generation: "g1",
  labels: { app: "orders" },
}
const sidecarRequest = (overrides: Partial<CertificateRequest> = {}): CertificateRequest => ({
  role: "sidecar",
  subject: idOf(sidecar),
  serial: "sidecar-serial-1",
  notBefore: NOW - 60_000,
  notAfter: NOW + 10 * 60_000,
  workload,
  ...overrides,
})
const options = (peer: string) => ({ authority: idOf(authority), peer, now: NOW })
const reason = (result: Result.Result<unknown, { reason: string }>) =>
  Result.isFailure(result) ? result.failure.reason : "accepted"

describe("certificate chains", () => {
  it("accepts an agent and a sidecar of a member agent, and says who they are", async () => {
    const agentCert = await issue(authority, agentRequest())
    const sidecarCert = await issue(agent, sidecarRequest())
    const asAgent = await verifyChain([agentCert], options(idOf(agent)))
    expect(Result.isSuccess(asAgent) && asAgent.success).toMatchObject({
      role: "agent",
      peer: idOf(agent),
      agent: idOf(agent),
      expiresAt: NOW + 24 * HOUR,
    })
    const asSidecar = await verifyChain([agentCert, sidecarCert], options(idOf(sidecar)))
    expect(Result.isSuccess(asSidecar) && asSidecar.success).toMatchObject({
      role: "sidecar",
      peer: idOf(sidecar),
      agent: idOf(agent),
      expiresAt: NOW + 10 * 60_000,
      serials: ["agent-serial-1", "sidecar-serial-1"],
      workload,
    })
  })

  it("refuses a chain that is not for the authenticated peer", async () => {
    const agentCert = await issue(authority, agentRequest())
    expect(reason(await verifyChain([agentCert], options(idOf(stranger))))).toBe("wrong-subject")
  })

  it("refuses an agent certificate signed by another authority (a member's credential on a non-member's key)", async () => {
    const forged = await issue(stranger, agentRequest())
    expect(reason(await verifyChain([forged], options(idOf(agent))))).toBe("wrong-issuer")
  })

  it("refuses a sidecar certificate that its agent did not sign", async () => {
    const agentCert = await issue(authority, agentRequest())
    const selfMade = await issue(stranger, sidecarRequest())
    expect(reason(await verifyChain([agentCert, selfMade], options(idOf(sidecar))))).toBe(
      "wrong-issuer",
    )
  })

  it("refuses chains in the wrong order or of the wrong length", async () => {
    const agentCert = await issue(authority, agentRequest())
    const sidecarCert = await issue(agent, sidecarRequest())
    expect(reason(await verifyChain([sidecarCert], options(idOf(sidecar))))).toBe("wrong-role")
    expect(reason(await verifyChain([agentCert, agentCert], options(idOf(agent))))).toBe(
      "wrong-role",
    )
    expect(reason(await verifyChain([], options(idOf(agent))))).toBe("malformed")
    expect(
      reason(await verifyChain([agentCert, sidecarCert, sidecarCert], options(idOf(sidecar)))),
    ).toBe("malformed")
  })

  it("refuses an expired sidecar certificate and one not valid yet", async () => {
    const agentCert = await issue(authority, agentRequest())
    const expired = await issue(
      agent,
      sidecarRequest({ notBefore: NOW - 20 * 60_000, notAfter: NOW - 1 }),
    )
    expect(reason(await verifyChain([agentCert, expired], options(idOf(sidecar))))).toBe("expired")
    const early = await issue(
      agent,
      sidecarRequest({ notBefore: NOW + 5 * 60_000, notAfter: NOW + 10 * 60_000 }),
    )
    expect(reason(await verifyChain([agentCert, early], options(idOf(sidecar))))).toBe(
      "not-yet-valid",
    )
  })

  it("refuses a revoked agent, and with it its sidecars", async () => {
    const agentCert = await issue(authority, agentRequest())
    const sidecarCert = await issue(agent, sidecarRequest())
    const list = await Effect.runPromise(
      issueRevocations(authority, { issuedAt: NOW, serials: [], subjects: [idOf(agent)] }),
    )
    const opened = await verifyRevocations(list, idOf(authority))
    expect(Result.isSuccess(opened)).toBe(true)
    const revoked = revokedSet(Result.isSuccess(opened) ? opened.success : undefined)
    expect(reason(await verifyChain([agentCert], { ...options(idOf(agent)), revoked }))).toBe(
      "revoked",
    )
    expect(
      reason(await verifyChain([agentCert, sidecarCert], { ...options(idOf(sidecar)), revoked })),
    ).toBe("revoked")
    const bySerial = revokedSet({
      v: 1,
      issuer: "",
      issuedAt: NOW,
      serials: ["agent-serial-1"],
      subjects: [],
    })
    expect(
      reason(await verifyChain([agentCert], { ...options(idOf(agent)), revoked: bySerial })),
    ).toBe("revoked")
  })

  it("refuses a revocation list that the authority did not sign", async () => {
    const list = await Effect.runPromise(
      issueRevocations(stranger, { issuedAt: NOW, serials: [], subjects: [idOf(agent)] }),
    )
    expect(reason(await verifyRevocations(list, idOf(authority)))).toBe("wrong-issuer")
  })

  it("refuses tampered, truncated and foreign input without throwing", async () => {
    const agentCert = await issue(authority, agentRequest())
    const [prefix, payload, signature] = agentCert.split(".") as [string, string, string]
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    const widened = Buffer.from(
      JSON.stringify({ ...claims, notAfter: NOW + 1000 * HOUR }),
    ).toString("base64url")
    expect(reason(await openCertificate(`${prefix}.${widened}.${signature}`))).toBe("bad-signature")
    for (const bad of ["", "bmc1..", "bmc1.!!.??", agentCert.slice(0, 40), "x".repeat(10_000)]) {
      expect(reason(await openCertificate(bad))).toBe("malformed")
    }
    // A revocation list is not a certificate, even though the authority signed both.
    const list = await Effect.runPromise(
      issueRevocations(authority, { issuedAt: NOW, serials: [], subjects: [] }),
    )
    expect(reason(await openCertificate(list))).toBe("malformed")
    expect(reason(await verifyChain("nope" as never, options(idOf(agent))))).toBe("malformed")
  })

  it("never issues what verifiers refuse", async () => {
    expect(
      reason(
        await issueResult(
          agent,
          sidecarRequest({ notBefore: NOW, notAfter: NOW + MAX_SIDECAR_LIFETIME_MS + 1 }),
        ),
      ),
    ).toBe("too-long-lived")
    const { workload: _, ...noWorkload } = sidecarRequest()
    expect(reason(await issueResult(agent, noWorkload))).toBe("malformed")
    expect(reason(await issueResult(authority, agentRequest({ workload })))).toBe("malformed")
    expect(reason(await issueResult(authority, agentRequest({ notAfter: NOW - 2 * HOUR })))).toBe(
      "malformed",
    )
    const labels = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`label-${i}`, "v".repeat(60)]),
    )
    expect(
      reason(await issueResult(agent, sidecarRequest({ workload: { ...workload, labels } }))),
    ).toBe("malformed")
  })
})
