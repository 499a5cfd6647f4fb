/**
 * Service registrations from sidecars and resolution for them, as the HTTP API needs it. The
 * implementation over @beemesh/registry lives in RegistryDirectory.ts.
 */
import { Context, Data, type Effect } from "effect"
import type { PodIdentity } from "./Tokens"

export interface Registration {
  readonly identity: PodIdentity
  /** The sidecar's libp2p peer id and the addresses peers dial it at. */
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly services: ReadonlyArray<{ readonly name: string; readonly port: number }>
}

export interface Lease {
  readonly ttlSeconds: number
  readonly renewAfterSeconds: number
}

export interface Provider {
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly pod: string
  readonly workload: string
}

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
