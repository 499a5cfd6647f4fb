/** The typed failures of host network validation; each carries a fix hint. */
import { Data } from "effect"
import type { SlirpUnavailable } from "./Errors.js"
import type { SlirpOptionsInvalid } from "./SlirpOptions.js"

/** /dev/net/tun is missing, not the tun device, or not usable by the user who runs slirp4netns. */
export class TunUnusable extends Data.TaggedError("TunUnusable")<{
  readonly path: string
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `${this.path} unusable: ${this.reason}; fix: ${this.hint}`
  }
}

/** A network namespace cannot be created here. */
export class NetnsUnsupported extends Data.TaggedError("NetnsUnsupported")<{
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `cannot create network namespaces: ${this.reason}; fix: ${this.hint}`
  }
}

/** nft is missing or cannot load an inet table with a UID match. */
export class NftUnavailable extends Data.TaggedError("NftUnavailable")<{
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `nftables unusable: ${this.reason}; fix: ${this.hint}`
  }
}

/** Rootless use: user namespaces are disabled or newuidmap/newgidmap are missing. */
export class UserNamespacesUnavailable extends Data.TaggedError("UserNamespacesUnavailable")<{
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `user namespaces unavailable: ${this.reason}; fix: ${this.hint}`
  }
}

/** Rootless use: the user has no (or too small a) subordinate UID/GID range. */
export class SubordinateIdsMissing extends Data.TaggedError("SubordinateIdsMissing")<{
  readonly user: string
  readonly file: string
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `${this.file}: ${this.reason} for ${this.user}; fix: ${this.hint}`
  }
}

export type PreflightError =
  | SlirpOptionsInvalid
  | SlirpUnavailable
  | TunUnusable
  | NetnsUnsupported
  | NftUnavailable
  | UserNamespacesUnavailable
  | SubordinateIdsMissing
