import { Data } from "effect"

// The node's own failures come from @beemesh/p2p, which assembles it; re-exported so that the
// registry's users meet every error of its node here.
export { DialFailed, KeyFileError, NodeStartFailed } from "@beemesh/p2p"

/** A namespace, service or manifest name that is not a DNS-1123 label (or subdomain). */
export class InvalidName extends Data.TaggedError("InvalidName")<{
  readonly field: string
  readonly value: string
  readonly reason: string
}> {
  override get message() {
    return `invalid ${this.field} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * Why a signed record was refused; `reason` is one of a fixed set so callers can branch on it.
 * The last five apply when the node has a membership (see Provenance): no certificate, one that
 * is not for the signer or does not verify, one from another mesh authority, a revoked agent, and
 * a certificate past its validity.
 */
export type RejectionReason =
  | "oversize"
  | "malformed"
  | "bad-signature"
  | "wrong-key"
  | "key-mismatch"
  | "expired"
  | "future-dated"
  | "over-quota"
  | "uncertified"
  | "not-a-member"
  | "foreign-authority"
  | "revoked"
  | "membership-expired"

/** A signed record that failed verification (tampered, foreign key, expired, too large …). */
export class RecordRejected extends Data.TaggedError("RecordRejected")<{
  readonly reason: RejectionReason
  readonly detail: string
}> {
  override get message() {
    return `record rejected (${this.reason}): ${this.detail}`
  }
}

/** A record we are about to sign does not fit the limits every verifier applies. */
export class RecordTooLarge extends Data.TaggedError("RecordTooLarge")<{
  readonly bytes: number
  readonly limit: number
}> {
  override get message() {
    return `signed record is ${this.bytes} bytes, more than the limit of ${this.limit}; register fewer multiaddrs or ports`
  }
}

/** A DHT operation failed (not a timeout: those return what was found so far). */
export class DhtOperationFailed extends Data.TaggedError("DhtOperationFailed")<{
  readonly operation: string
  readonly key: string
  readonly cause: unknown
}> {
  override get message() {
    return `DHT ${this.operation} of ${this.key} failed: ${String(this.cause)}`
  }
}

/** Every peer that answered refused (or failed to store) our put. */
export class PublishRejected extends Data.TaggedError("PublishRejected")<{
  readonly key: string
  readonly rejections: number
  readonly firstError: string
}> {
  override get message() {
    return `no peer accepted the record at ${this.key} (${this.rejections} refusals, first: ${this.firstError})`
  }
}

/** A manifest was not found in the DHT (or only invalid copies were). */
export class ManifestNotFound extends Data.TaggedError("ManifestNotFound")<{
  readonly namespace: string
  readonly name: string
}> {
  override get message() {
    return `manifest ${this.namespace}/${this.name} not found in the DHT`
  }
}

/** `Catalog.layer` over a node started without gossipsub. */
export class CatalogUnavailable extends Data.TaggedError("CatalogUnavailable")<{
  readonly peerId: string
}> {
  override get message() {
    return `the service catalog needs gossipsub on libp2p node ${this.peerId}: start it with Libp2pNode.layer({ catalog: true, … })`
  }
}

/** gossipsub refused to publish a catalog record (the record is stored locally nonetheless). */
export class CatalogPublishFailed extends Data.TaggedError("CatalogPublishFailed")<{
  readonly service: string
  readonly cause: unknown
}> {
  override get message() {
    return `publishing the catalog record of ${this.service} failed: ${String(this.cause)}`
  }
}
