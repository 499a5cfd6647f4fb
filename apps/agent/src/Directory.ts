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
  }
>()("@beemesh/agent/ServiceDirectory") {}
