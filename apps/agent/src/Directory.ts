/**
 * Service registrations from sidecars and resolution for them, as the HTTP API needs it. The
 * implementation over @beemesh/registry lives in RegistryDirectory.ts.
 */
import type { Registration as PodApi, Resolution } from "@beemesh/contract"
import { Context, Data, type Effect } from "effect"
import type { PodIdentity } from "./Tokens"

/** A sidecar's registration (@beemesh/contract), once its pod token has named its pod. */
export interface Registration
  extends Pick<PodApi.Registration, "peerId" | "multiaddrs" | "services"> {
  readonly identity: PodIdentity
}

export type Lease = PodApi.Lease

export type Provider = Resolution.Provider

export class DirectoryUnavailable extends Data.TaggedError("DirectoryUnavailable")<{
  readonly reason: string
}> {
  override get message() {
    return `service registry unavailable: ${this.reason}`
  }
}

/**
 * Tells when a service's providers may have changed, so a watch (Resolution's `?wait=`) is answered
 * at once rather than polled: a registration or withdrawal on this agent, a record stored from the
 * mesh. Records can also lapse without a signal (a lease or membership running out), so a watch
 * resolves again at least every `recheckMs`.
 */
export interface DirectoryChanges {
  /** A number that moves whenever the service's providers may have changed. */
  readonly generation: (namespace: string, service: string) => number
  /** Returns once the generation is past `since`, or after `timeoutMs`. */
  readonly awaitChange: (
    namespace: string,
    service: string,
    since: number,
    timeoutMs: number,
  ) => Effect.Effect<void>
  /** The longest a watch relies on signals alone before resolving again. */
  readonly recheckMs: number
}

export class ServiceDirectory extends Context.Service<
  ServiceDirectory,
  {
    /** Registers or renews a pod's services. */
    readonly register: (registration: Registration) => Effect.Effect<Lease, DirectoryUnavailable>
    /** Withdraws every service the pod registered. */
    readonly unregister: (identity: PodIdentity) => Effect.Effect<void, DirectoryUnavailable>
    readonly resolve: (
      namespace: string,
      service: string,
    ) => Effect.Effect<ReadonlyArray<Provider>, DirectoryUnavailable>
    /** Change signals for watches; a directory without them (a test's) has its callers poll. */
    readonly changes?: DirectoryChanges
  }
>()("@beemesh/agent/ServiceDirectory") {}
