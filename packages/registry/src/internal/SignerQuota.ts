/**
 * What one signer may keep in a node's DHT store: kad-dht stores every valid PUT_VALUE and never
 * forgets it, so without a bound one member could fill a node's memory with valid records (200
 * manifests of 240 KiB each were all kept). kad-dht tells a validator nothing about the sending
 * peer, but every record is signed: the quota is per signer, counted over distinct keys (a new
 * version of a key replaces the old one's size).
 */
export interface SignerQuotaLimits {
  /** Distinct keys one signer may have records under. */
  readonly maxRecords: number
  /** Bytes of those records together. */
  readonly maxBytes: number
}

export class SignerQuota {
  private readonly bySigner = new Map<string, { bytes: number; keys: Map<string, number> }>()

  constructor(readonly limits: SignerQuotaLimits) {}

  /** Counts the record in, or says why it does not fit (and counts nothing). */
  admit(signer: string, key: string, bytes: number): string | undefined {
    const entry = this.bySigner.get(signer) ?? { bytes: 0, keys: new Map<string, number>() }
    const previous = entry.keys.get(key)
    const records = entry.keys.size + (previous === undefined ? 1 : 0)
    const total = entry.bytes - (previous ?? 0) + bytes
    if (records > this.limits.maxRecords)
      return `signer ${signer} already has ${entry.keys.size} records here (limit ${this.limits.maxRecords})`
    if (total > this.limits.maxBytes)
      return `signer ${signer} would have ${total} bytes of records here (limit ${this.limits.maxBytes})`
    entry.keys.set(key, bytes)
    entry.bytes = total
    this.bySigner.set(signer, entry)
    return undefined
  }

  /** Forgets the record under `key` (removed from the store), giving its share back. */
  release(signer: string, key: string): void {
    const entry = this.bySigner.get(signer)
    const bytes = entry?.keys.get(key)
    if (entry === undefined || bytes === undefined) return
    entry.keys.delete(key)
    entry.bytes -= bytes
    if (entry.keys.size === 0) this.bySigner.delete(signer)
  }
}
