/**
 * The registry's public shape: its options, what a registration holds and what it fails with.
 * The implementation over the Kad-DHT is Registry.ts.
 */
import type { Effect, Scope } from "effect"
import type {
  DhtOperationFailed,
  InvalidName,
  ManifestNotFound,
  PublishRejected,
  RecordRejected,
  RecordTooLarge,
} from "./Errors.js"
import type * as ManifestRecord from "./ManifestRecord.js"
import type * as ServiceRecord from "./ServiceRecord.js"

export interface RegistryOptions {
  /** Lifetime of a published record; a provider that stops refreshing ages out after it. Default 60 s. */
  readonly recordTtlMs?: number
  /** How often live registrations are re-signed and re-published. Default a third of the TTL. */
  readonly refreshIntervalMs?: number
  /**
   * How often a live service's provider record is announced again on the DHT (a walk to the
   * peers closest to the service's key). Default 10 min. The signed record itself is re-put
   * every refresh (it expires); the provider record only says which nodes to ask, and peers keep
   * it for 48 h, so announcing it again serves peers that joined closer to the key since. It is
   * announced at once when a service is registered after having none, and again at every
   * refresh while an announcement reached fewer than k (20) peers: a small mesh may be growing.
   */
  readonly provideIntervalMs?: number
  /**
   * How long a resolve result is reused (never past a record's expiry), counted from the end of
   * the lookup that produced it. Default 5 s.
   */
  readonly cacheTtlMs?: number
  /**
   * How long an empty answer of a DHT lookup (no live provider found) is reused. Default 1 s; 0
   * keeps none. A caller retrying a service nobody provides yet (an app waiting for a deployment,
   * polling every few milliseconds) would otherwise start a DHT walk, tens of queries to other
   * agents, at every attempt. A service the replicated catalog holds is answered from it whatever
   * this says, and a registration on this node clears it; without a catalog, a provider
   * registered elsewhere may be seen up to this much later.
   */
  readonly emptyCacheMs?: number
  /**
   * Once a cached answer is older than `cacheTtlMs`, keep answering at once with its unexpired
   * records while one lookup refreshes it in the background. Default false. A lookup waits for
   * every peer it asks, up to `queryTimeoutMs` per query, so with an unreachable peer in the
   * routing table each lookup takes seconds; callers with short deadlines (a proxy resolving
   * per connection) would otherwise time out on every lookup while a host is down.
   */
  readonly serveStale?: boolean
  /** Deadline of each DHT query (put, provide, find providers, get). Default 10 s. */
  readonly queryTimeoutMs?: number
  /** Providers fetched in parallel by one resolve. Default 8. */
  readonly resolveConcurrency?: number
  /**
   * Services re-published in parallel by one refresh round. Default 8. A publish is one or two DHT
   * walks (put; provide when due) of up to a query timeout each, so one after another 100 services take longer
   * than a record lives; but each walk holds a kad stream to the same few peers, and kad-dht
   * resets streams beyond 32 inbound per connection, which 16 parallel publishes reach.
   */
  readonly refreshConcurrency?: number
  /**
   * Lifetime of a manifest version this node publishes: past it every node refuses the version.
   * The node re-signs its versions every third of it while it runs (unless a newer version
   * replaced them), so a manifest outlives its publisher by at most this. Default 24 h.
   */
  readonly manifestTtlMs?: number
}

/** What a sidecar registers: one pod's endpoint of a service. */
export interface EndpointSpec {
  readonly workload: string
  readonly pod: string
  readonly ports: ReadonlyArray<ServiceRecord.Port>
  /** Where to reach the endpoint; default: this node's own multiaddrs. */
  readonly multiaddrs?: ReadonlyArray<string>
}

export interface Registration {
  readonly namespace: string
  readonly service: string
  readonly pod: string
  /** The record as last published by this node (it lists every local endpoint of the service). */
  readonly current: () => ServiceRecord.ServiceRecord | undefined
}

export type RegisterError =
  | InvalidName
  | RecordTooLarge
  | RecordRejected
  | PublishRejected
  | DhtOperationFailed
export type ResolveError = InvalidName | DhtOperationFailed

export interface ResolveOptions {
  /** Bypass (and refresh) the cache. */
  readonly fresh?: boolean
}

export interface RegistryShape {
  /**
   * Announces an endpoint of `namespace/service` until the scope closes: publishes this node's
   * signed record and a provider record, refreshes both, and withdraws (tombstone) on release.
   */
  readonly register: (
    namespace: string,
    service: string,
    endpoint: EndpointSpec,
  ) => Effect.Effect<Registration, RegisterError, Scope.Scope>
  /** Verified, live (unexpired, not withdrawn) records of every provider of the service. */
  readonly resolve: (
    namespace: string,
    service: string,
    options?: ResolveOptions,
  ) => Effect.Effect<ReadonlyArray<ServiceRecord.ServiceRecord>, ResolveError>
  /** Stores a manifest; its sequence is above any version currently in the DHT. */
  readonly putManifest: (
    namespace: string,
    name: string,
    content: string,
  ) => Effect.Effect<
    ManifestRecord.ManifestRecord,
    InvalidName | RecordTooLarge | RecordRejected | PublishRejected | DhtOperationFailed
  >
  /** The newest valid version of a manifest. */
  readonly getManifest: (
    namespace: string,
    name: string,
  ) => Effect.Effect<
    ManifestRecord.ManifestRecord,
    InvalidName | ManifestNotFound | DhtOperationFailed
  >
}
