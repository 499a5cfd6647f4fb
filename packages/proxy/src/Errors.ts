import { Data } from "effect"

const causeText = (cause: unknown): string =>
  cause instanceof Error ? cause.message : String(cause)

/** `node.handle()` refused to register the proxy protocol (for example it is already handled). */
export class ProtocolRegistrationFailed extends Data.TaggedError("ProtocolRegistrationFailed")<{
  readonly protocol: string
  readonly cause: unknown
}> {
  override get message() {
    return `could not register libp2p protocol ${this.protocol}: ${causeText(this.cause)}`
  }
}

/** An upstream listener could not bind its local TCP address. */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly service: string
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    return `upstream listener for service ${JSON.stringify(this.service)} could not listen on ${this.host}:${this.port}: ${causeText(this.cause)} (is the port in use?)`
  }
}

/** The resolver failed (not "no providers": that is {@link NoProviders}). */
export class ResolveFailed extends Data.TaggedError("ResolveFailed")<{
  readonly service: string
  readonly cause: unknown
}> {
  override get message() {
    return `resolving service ${JSON.stringify(this.service)} failed: ${causeText(this.cause)}`
  }
}

/** The resolver answered with an empty provider list. */
export class NoProviders extends Data.TaggedError("NoProviders")<{
  readonly service: string
}> {
  override get message() {
    return `no provider is registered for service ${JSON.stringify(this.service)}`
  }
}

/** One provider could not be used: dial, stream open, handshake or refusal. */
export class ProviderFailed extends Data.TaggedError("ProviderFailed")<{
  readonly service: string
  readonly peerId: string
  readonly stage: "dial" | "open-stream" | "handshake" | "refused" | "denied"
  readonly reason: string
}> {
  override get message() {
    return `provider ${this.peerId} of service ${JSON.stringify(this.service)} failed at ${this.stage}: ${this.reason}`
  }
}

/** Every provider that was tried failed; `failures` says why for each. */
export class AllProvidersFailed extends Data.TaggedError("AllProvidersFailed")<{
  readonly service: string
  readonly failures: ReadonlyArray<ProviderFailed>
}> {
  override get message() {
    return `all ${this.failures.length} provider(s) of service ${JSON.stringify(this.service)} failed: ${this.failures.map((f) => f.message).join("; ")}`
  }
}

/**
 * A provider's door refused this caller (status `Denied`: not a member, or no NetworkPolicy lets
 * it reach the service). Other providers of the service are not tried: they enforce the same
 * policies.
 */
export class CallDenied extends Data.TaggedError("CallDenied")<{
  readonly service: string
  readonly peerId: string
  readonly reason: string
}> {
  override get message() {
    return `denied by policy at provider ${this.peerId} of service ${JSON.stringify(this.service)}: ${this.reason}`
  }
}

/** The exposed target's TCP listener did not accept a connection (inbound side). */
export class TargetConnectFailed extends Data.TaggedError("TargetConnectFailed")<{
  readonly target: string
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    return `could not connect to exposed ${this.target} at ${this.host}:${this.port}: ${causeText(this.cause)} (is the app listening?)`
  }
}

/** A wait on the network did not finish in time. `what` names the wait. */
export class ProxyTimeout extends Data.TaggedError("ProxyTimeout")<{
  readonly what: string
  readonly timeoutMs: number
}> {
  override get message() {
    return `timed out after ${this.timeoutMs} ms waiting for ${this.what}`
  }
}
