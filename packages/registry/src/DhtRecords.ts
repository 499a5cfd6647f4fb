import type { SelectFn, Selectors, ValidateFn, Validators } from "@libp2p/kad-dht"
import { Result } from "effect"
import { RecordRejected } from "./Errors.js"
import { SignerQuota, type SignerQuotaLimits } from "./internal/SignerQuota.js"
import * as ManifestRecord from "./ManifestRecord.js"
import { MANIFEST_PREFIX, SERVICE_PREFIX } from "./Names.js"
import type { MembershipPolicy } from "./Provenance.js"
import * as ServiceRecord from "./ServiceRecord.js"

/**
 * kad-dht validators and selectors for our key prefixes. kad-dht picks them by the key's first
 * segment (`/beemesh-svc/...` → `beemesh-svc`) and runs the validator on every value it stores
 * (PUT_VALUE from a peer), reads from its own datastore, or receives in a GET_VALUE answer, so
 * forged, mis-keyed and expired records never enter or leave a node that runs this code.
 * Every node of the mesh must install them (Libp2pNode does). Each signer (a record's provider
 * or publisher) may keep at most `DEFAULT_SIGNER_QUOTA` records here, so no member can fill a
 * node's store. With a membership policy, a record must also carry a certificate that makes its
 * signer a member agent (checked before the quota, so refused records count for nothing).
 */

/** Records and bytes one signer may keep in a node's store. */
export const DEFAULT_SIGNER_QUOTA: SignerQuotaLimits = {
  // Hundreds of services per sidecar identity or manifests per agent would be far beyond use.
  maxRecords: 1024,
  // 128 manifests of the largest size (256 KiB).
  maxBytes: 32 * 1024 * 1024,
}

export type { SignerQuotaLimits }

const withinQuota = (quota: SignerQuota, signer: string, key: Uint8Array, bytes: number) => {
  const refusal = quota.admit(signer, Buffer.from(key).toString("base64"), bytes)
  if (refusal !== undefined) throw new RecordRejected({ reason: "over-quota", detail: refusal })
}

const serviceValidator =
  (now: () => number, quota: SignerQuota, membership: MembershipPolicy | undefined): ValidateFn =>
  async (key, value) => {
    const verified = await ServiceRecord.verifyBytes(value, {
      now: now(),
      key,
      ...(membership === undefined ? {} : { membership }),
    })
    if (Result.isFailure(verified)) throw verified.failure
    withinQuota(quota, verified.success.record.provider, key, value.length)
  }

const manifestValidator =
  (now: () => number, quota: SignerQuota, membership: MembershipPolicy | undefined): ValidateFn =>
  async (key, value) => {
    const verified = await ManifestRecord.verifyBytes(value, {
      now: now(),
      key,
      ...(membership === undefined ? {} : { membership }),
    })
    if (Result.isFailure(verified)) throw verified.failure
    withinQuota(quota, verified.success.publisher, key, value.length)
  }

/** Index of the newest record; records that do not decode never win. */
const newestSelector =
  <A>(peek: (bytes: Uint8Array) => A | undefined, newer: (a: A, b: A) => boolean): SelectFn =>
  (_key, records) => {
    let best = -1
    let bestRecord: A | undefined
    records.forEach((bytes, index) => {
      const record = peek(bytes)
      if (record === undefined) return
      if (bestRecord === undefined || newer(record, bestRecord)) {
        best = index
        bestRecord = record
      }
    })
    return Math.max(best, 0)
  }

/**
 * One node's validators; the quota is shared by both prefixes and lives as long as they do.
 * `membership`: the mesh's policy, when records must come from member agents.
 */
export const validators = (
  now: () => number = Date.now,
  limits: SignerQuotaLimits = DEFAULT_SIGNER_QUOTA,
  membership?: MembershipPolicy,
): Validators => {
  const quota = new SignerQuota(limits)
  return {
    [SERVICE_PREFIX]: serviceValidator(now, quota, membership),
    [MANIFEST_PREFIX]: manifestValidator(now, quota, membership),
  }
}

export const selectors = (): Selectors => ({
  [SERVICE_PREFIX]: newestSelector(ServiceRecord.peek, ServiceRecord.newer),
  [MANIFEST_PREFIX]: newestSelector(ManifestRecord.peek, ManifestRecord.newer),
})
