import type { SelectFn, Selectors, ValidateFn, Validators } from "@libp2p/kad-dht"
import { Result } from "effect"
import * as ManifestRecord from "./ManifestRecord.js"
import { MANIFEST_PREFIX, SERVICE_PREFIX } from "./Names.js"
import * as ServiceRecord from "./ServiceRecord.js"

/**
 * kad-dht validators and selectors for our key prefixes. kad-dht picks them by the key's first
 * segment (`/beemesh-svc/...` → `beemesh-svc`) and runs the validator on every value it stores
 * (PUT_VALUE from a peer), reads from its own datastore, or receives in a GET_VALUE answer, so
 * forged, mis-keyed and expired records never enter or leave a node that runs this code.
 * Every node of the mesh must install them (Libp2pNode does).
 */

const serviceValidator =
  (now: () => number): ValidateFn =>
  async (key, value) => {
    const verified = await ServiceRecord.verifyBytes(value, { now: now(), key })
    if (Result.isFailure(verified)) throw verified.failure
  }

const manifestValidator =
  (now: () => number): ValidateFn =>
  async (key, value) => {
    const verified = await ManifestRecord.verifyBytes(value, { now: now(), key })
    if (Result.isFailure(verified)) throw verified.failure
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

export const validators = (now: () => number = Date.now): Validators => ({
  [SERVICE_PREFIX]: serviceValidator(now),
  [MANIFEST_PREFIX]: manifestValidator(now),
})

export const selectors = (): Selectors => ({
  [SERVICE_PREFIX]: newestSelector(ServiceRecord.peek, ServiceRecord.newer),
  [MANIFEST_PREFIX]: newestSelector(ManifestRecord.peek, ManifestRecord.newer),
})
