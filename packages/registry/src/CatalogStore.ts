import { Order, Result } from "effect"
import { RecordRejected } from "./Errors.js"
import { SignerQuota, type SignerQuotaLimits } from "./internal/SignerQuota.js"
import { type MembershipPolicy, stillMember } from "./Provenance.js"
import * as ServiceRecord from "./ServiceRecord.js"

/**
 * The replicated service catalog's local copy: the newest valid record per (service, signer),
 * held in memory so that resolving is a map lookup. Every record is verified exactly as the DHT's
 * validator verifies it (envelope size and signature, schema, signer = provider, freshness, and
 * under a membership the signer's certificate), then checked against a per-signer quota, before
 * it is stored; the catalog forwards only what was stored. Tombstones (records without
 * endpoints) are kept until they expire, so an older copy arriving late cannot bring a withdrawn
 * service back.
 */

/** Records and bytes one signer may keep in the catalog (one record per service it provides). */
export const DEFAULT_CATALOG_QUOTA: SignerQuotaLimits = {
  // An agent provides at most a few hundred services; more is a member flooding the mesh.
  maxRecords: 1024,
  // Typical records are 1–3 KiB; 8 MiB holds 64 records of the largest size.
  maxBytes: 8 * 1024 * 1024,
}

export interface CatalogStoreOptions {
  /** The mesh's policy when records must come from member agents. Default: any valid signature. */
  readonly membership?: MembershipPolicy
  /** Default {@link DEFAULT_CATALOG_QUOTA}. */
  readonly quota?: SignerQuotaLimits
}

/**
 * What became of an offered record: `stored` (new or newer: forward it), or `stale` (the catalog
 * already holds this or a newer version of it: drop it silently).
 */
export type Offered = "stored" | "stale"

const serviceKey = (namespace: string, service: string) => `${namespace}/${service}`

export class CatalogStore {
  private readonly services = new Map<string, Map<string, ServiceRecord.SignedServiceRecord>>()
  private readonly quota: SignerQuota
  private readonly listeners = new Set<(record: ServiceRecord.ServiceRecord) => void>()
  private readonly membership: MembershipPolicy | undefined

  constructor(options: CatalogStoreOptions = {}) {
    this.membership = options.membership
    this.quota = new SignerQuota(options.quota ?? DEFAULT_CATALOG_QUOTA)
  }

  private current(record: ServiceRecord.ServiceRecord) {
    return this.services.get(serviceKey(record.namespace, record.service))?.get(record.provider)
  }

  /**
   * Verifies `bytes` and stores the record when it is newer than the one held for its service and
   * signer. A record whose version is already held is `stale` without verifying it again (copies
   * of one record arrive from several peers). Never throws.
   */
  readonly offer = async (
    bytes: Uint8Array,
    now: number,
  ): Promise<Result.Result<Offered, RecordRejected>> => {
    const peeked = ServiceRecord.peek(bytes)
    const held = peeked === undefined ? undefined : this.current(peeked)
    if (peeked !== undefined && held !== undefined && !ServiceRecord.newer(peeked, held.record))
      return Result.succeed("stale")
    const verified = await ServiceRecord.verifyBytes(bytes, {
      now,
      ...(this.membership === undefined ? {} : { membership: this.membership }),
    })
    if (Result.isFailure(verified)) return Result.fail(verified.failure)
    const entry = verified.success
    const { record } = entry
    // Another copy may have been stored while this one was being verified.
    const existing = this.current(record)
    if (existing !== undefined && !ServiceRecord.newer(record, existing.record))
      return Result.succeed("stale")
    const key = serviceKey(record.namespace, record.service)
    const refusal = this.quota.admit(record.provider, key, bytes.length)
    if (refusal !== undefined)
      return Result.fail(new RecordRejected({ reason: "over-quota", detail: refusal }))
    const providers = this.services.get(key) ?? new Map<string, ServiceRecord.SignedServiceRecord>()
    providers.set(record.provider, entry)
    this.services.set(key, providers)
    for (const listener of this.listeners) listener(record)
    return Result.succeed("stored")
  }

  private live(entry: ServiceRecord.SignedServiceRecord, now: number) {
    if (ServiceRecord.expiresAt(entry.record) <= now) return false
    if (this.membership === undefined) return true
    return entry.member !== undefined && stillMember(entry.member, this.membership, now)
  }

  /**
   * Live records of a service (unexpired, not withdrawn, signer still a member), ordered by
   * provider. Revocation and expiry apply at once, before the next sweep removes the entries.
   */
  readonly lookup = (
    namespace: string,
    service: string,
    now: number,
  ): ReadonlyArray<ServiceRecord.ServiceRecord> => {
    const providers = this.services.get(serviceKey(namespace, service))
    if (providers === undefined) return []
    const records: ServiceRecord.ServiceRecord[] = []
    for (const entry of providers.values())
      if (!ServiceRecord.isTombstone(entry.record) && this.live(entry, now))
        records.push(entry.record)
    return records.sort(
      Order.mapInput(Order.String, (r: ServiceRecord.ServiceRecord) => r.provider),
    )
  }

  /**
   * Whether the catalog holds any entry for the service, withdrawn or expired ones included: then
   * its answer stands even when empty (a DHT copy could only be as old or older).
   */
  readonly holds = (namespace: string, service: string): boolean =>
    this.services.has(serviceKey(namespace, service))

  /** The signed form of every live entry, tombstones included: what a joining peer is sent. */
  readonly signed = (now: number): ReadonlyArray<Uint8Array> => {
    const out: Uint8Array[] = []
    for (const providers of this.services.values())
      for (const entry of providers.values()) if (this.live(entry, now)) out.push(entry.bytes)
    return out
  }

  /** Removes expired entries and those of signers no longer members; returns how many. */
  readonly sweep = (now: number): number => {
    let removed = 0
    for (const [key, providers] of this.services) {
      for (const [provider, entry] of providers) {
        if (this.live(entry, now)) continue
        providers.delete(provider)
        this.quota.release(provider, key)
        removed++
      }
      if (providers.size === 0) this.services.delete(key)
    }
    return removed
  }

  /** Entries held (tombstones and not yet swept ones included). */
  readonly size = (): number => {
    let n = 0
    for (const providers of this.services.values()) n += providers.size
    return n
  }

  /** Calls `listener` with every record stored from now on. */
  readonly onStored = (listener: (record: ServiceRecord.ServiceRecord) => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
