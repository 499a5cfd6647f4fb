import type { Revoked } from "@beemesh/p2p"
import type { PrivateKey } from "@libp2p/interface"
import { Effect, Result } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { certify as certifyAt, idOf, newKeys } from "../test/support/certificates.js"
import { CatalogStore } from "./CatalogStore.js"
import type { MembershipPolicy } from "./Provenance.js"
import * as ServiceRecord from "./ServiceRecord.js"

const NOW = 1_800_000_000_000

let authority: PrivateKey
let foreignAuthority: PrivateKey
let agentA: PrivateKey
let agentB: PrivateKey
let certA: string
let certB: string
let revoked: Revoked
let policy: MembershipPolicy

const certify = (issuer: PrivateKey, subject: PrivateKey) => certifyAt(issuer, subject, NOW)

beforeAll(async () => {
  const keys = await newKeys(4)
  ;[authority, foreignAuthority, agentA, agentB] = keys as [
    PrivateKey,
    PrivateKey,
    PrivateKey,
    PrivateKey,
  ]
  certA = await certify(authority, agentA)
  certB = await certify(authority, agentB)
  revoked = { serials: new Set(), subjects: new Set() }
  policy = { authority: idOf(authority), revoked: () => revoked }
})

interface Draft {
  readonly service?: string
  readonly sequence?: number
  readonly issuedAt?: number
  readonly ttlMs?: number
  readonly endpoints?: number
  readonly certificate?: string | null
  readonly multiaddrs?: number
}

const sign = (key: PrivateKey, certificate: string, draft: Draft = {}) =>
  Effect.runPromise(
    ServiceRecord.sign(key, {
      kind: "beemesh.service/v1",
      namespace: "prod",
      service: draft.service ?? "orders",
      provider: idOf(key),
      issuedAt: draft.issuedAt ?? NOW,
      ttlMs: draft.ttlMs ?? 60_000,
      sequence: draft.sequence ?? 1,
      endpoints: Array.from({ length: draft.endpoints ?? 1 }, (_, i) => ({
        workload: "orders",
        pod: `orders-${i}`,
        multiaddrs: Array.from(
          { length: draft.multiaddrs ?? 0 },
          (_, j) => `/ip4/127.0.0.${j}/tcp/4001/p2p/${idOf(key)}`,
        ),
        ports: [{ port: 80 }],
      })),
      ...(draft.certificate === null ? {} : { certificate: draft.certificate ?? certificate }),
    }),
  ).then((signed) => signed.bytes)

const outcome = async (store: CatalogStore, bytes: Uint8Array, now = NOW) => {
  const result = await store.offer(bytes, now)
  return Result.isFailure(result) ? result.failure.reason : result.success
}

const providersOf = (store: CatalogStore, service = "orders", now = NOW) =>
  store.lookup("prod", service, now).map((r) => [r.provider, r.sequence])

describe("CatalogStore", () => {
  it("keeps the newest record per (service, signer): older and equal versions are stale", async () => {
    const store = new CatalogStore({ membership: policy })
    expect(await outcome(store, await sign(agentA, certA, { sequence: 2 }))).toBe("stored")
    expect(await outcome(store, await sign(agentA, certA, { sequence: 1 }))).toBe("stale")
    expect(await outcome(store, await sign(agentA, certA, { sequence: 2 }))).toBe("stale")
    expect(await outcome(store, await sign(agentB, certB, { sequence: 1 }))).toBe("stored")
    // Ordered by provider id in code units, not by locale (ICU puts "12D3KooWKtY…" before
    // "12D3KooWKXy…"; code units the other way round).
    expect(providersOf(store)).toEqual(
      [
        [idOf(agentA), 2],
        [idOf(agentB), 1],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    )
    expect(await outcome(store, await sign(agentA, certA, { sequence: 3 }))).toBe("stored")
    expect(providersOf(store).find(([p]) => p === idOf(agentA))).toEqual([idOf(agentA), 3])
  })

  it("refuses forged, uncertified, foreign-authority, expired and oversize records before storing them", async () => {
    const store = new CatalogStore({ membership: policy })
    const good = await sign(agentA, certA)
    const forged = new Uint8Array(good)
    forged[forged.length - 10] = forged[forged.length - 10] === 65 ? 66 : 65
    expect(await outcome(store, forged)).toMatch(/bad-signature|malformed/)
    expect(await outcome(store, await sign(agentA, certA, { certificate: null }))).toBe(
      "uncertified",
    )
    const foreignCert = await certify(foreignAuthority, agentA)
    expect(await outcome(store, await sign(agentA, foreignCert))).toBe("foreign-authority")
    expect(await outcome(store, await sign(agentA, certA, { issuedAt: NOW - 120_000 }))).toBe(
      "expired",
    )
    const oversize = new Uint8Array(ServiceRecord.MAX_BYTES + 1).fill(32)
    expect(await outcome(store, oversize)).toBe("oversize")
    expect(store.size()).toBe(0)
    expect(providersOf(store)).toEqual([])
  })

  it("refuses a signer's records beyond its quota as over-quota, and still takes other signers'", async () => {
    const store = new CatalogStore({
      membership: policy,
      quota: { maxRecords: 2, maxBytes: 1 << 20 },
    })
    for (const service of ["a", "b"])
      expect(await outcome(store, await sign(agentA, certA, { service }))).toBe("stored")
    expect(await outcome(store, await sign(agentA, certA, { service: "c" }))).toBe("over-quota")
    // A newer version of a held service replaces it and fits.
    expect(await outcome(store, await sign(agentA, certA, { service: "a", sequence: 2 }))).toBe(
      "stored",
    )
    expect(await outcome(store, await sign(agentB, certB, { service: "c" }))).toBe("stored")
  })

  it("bounds a signer's bytes, and gives the share back when its records expire", async () => {
    const store = new CatalogStore({
      membership: policy,
      quota: { maxRecords: 100, maxBytes: 10_000 },
    })
    const big = (service: string, issuedAt = NOW) =>
      sign(agentA, certA, { service, endpoints: 10, multiaddrs: 2, issuedAt, ttlMs: 1_000 })
    const first = await big("a")
    expect(first.length).toBeGreaterThan(4_000)
    expect(first.length).toBeLessThan(5_000)
    expect(await outcome(store, first)).toBe("stored")
    expect(await outcome(store, await big("b"))).toBe("stored")
    expect(await outcome(store, await big("c"))).toBe("over-quota")
    expect(store.sweep(NOW + 1_000)).toBe(2)
    expect(await outcome(store, await big("c", NOW + 1_000), NOW + 1_000)).toBe("stored")
  })

  it("a withdrawal (tombstone) hides the provider and keeps an older copy from bringing it back", async () => {
    const store = new CatalogStore({ membership: policy })
    expect(await outcome(store, await sign(agentA, certA, { sequence: 5 }))).toBe("stored")
    expect(await outcome(store, await sign(agentA, certA, { sequence: 6, endpoints: 0 }))).toBe(
      "stored",
    )
    expect(providersOf(store)).toEqual([])
    expect(store.holds("prod", "orders")).toBe(true)
    expect(await outcome(store, await sign(agentA, certA, { sequence: 5 }))).toBe("stale")
    expect(providersOf(store)).toEqual([])
    // Tombstones still travel to joining peers until they expire.
    expect(store.signed(NOW)).toHaveLength(1)
    expect(store.sweep(NOW + 60_000)).toBe(1)
    expect(store.signed(NOW + 60_000)).toHaveLength(0)
    expect(store.holds("prod", "orders")).toBe(false)
  })

  it("expired records vanish from lookups at once, and from the store at the next sweep", async () => {
    const store = new CatalogStore({ membership: policy })
    await outcome(store, await sign(agentA, certA, { ttlMs: 5_000 }))
    expect(providersOf(store, "orders", NOW + 4_999)).toHaveLength(1)
    expect(providersOf(store, "orders", NOW + 5_000)).toEqual([])
    expect(store.size()).toBe(1)
    expect(store.sweep(NOW + 5_000)).toBe(1)
    expect(store.size()).toBe(0)
  })

  it("a revoked signer's entries drop out of lookups at once and are swept; its new records are refused", async () => {
    let list: Revoked = { serials: new Set(), subjects: new Set() }
    const store = new CatalogStore({
      membership: { authority: idOf(authority), revoked: () => list },
    })
    await outcome(store, await sign(agentA, certA))
    await outcome(store, await sign(agentB, certB))
    expect(providersOf(store)).toHaveLength(2)
    list = { serials: new Set(), subjects: new Set([idOf(agentA)]) }
    expect(providersOf(store)).toEqual([[idOf(agentB), 1]])
    expect(store.sweep(NOW)).toBe(1)
    expect(await outcome(store, await sign(agentA, certA, { sequence: 2 }))).toBe("revoked")
  })

  it("tells listeners about every stored record, and about nothing refused or stale", async () => {
    const store = new CatalogStore({ membership: policy })
    const seen: number[] = []
    const stop = store.onStored((record) => seen.push(record.sequence))
    await outcome(store, await sign(agentA, certA, { sequence: 1 }))
    await outcome(store, await sign(agentA, certA, { sequence: 1 }))
    await outcome(store, await sign(agentA, certA, { sequence: 2, certificate: null }))
    await outcome(store, await sign(agentA, certA, { sequence: 3 }))
    stop()
    await outcome(store, await sign(agentA, certA, { sequence: 4 }))
    expect(seen).toEqual([1, 3])
  })

  it("without a membership, any validly signed record is taken", async () => {
    const store = new CatalogStore()
    expect(await outcome(store, await sign(agentA, certA, { certificate: null }))).toBe("stored")
    expect(providersOf(store)).toHaveLength(1)
  })
})
