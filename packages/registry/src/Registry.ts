import type { QueryEvent } from "@libp2p/kad-dht"
import { Clock, Context, Effect, Layer, Result, type Scope, Semaphore } from "effect"
import {
  type DhtOperationFailed,
  type InvalidName,
  ManifestNotFound,
  PublishRejected,
  type RecordRejected,
  type RecordTooLarge,
} from "./Errors.js"
import { drain } from "./internal/query.js"
import { Libp2pNode } from "./Libp2pNode.js"
import * as ManifestRecord from "./ManifestRecord.js"
import * as Names from "./Names.js"
import * as ServiceRecord from "./ServiceRecord.js"

export interface RegistryOptions {
  /** Lifetime of a published record; a provider that stops refreshing ages out after it. Default 60 s. */
  readonly recordTtlMs?: number
  /** How often live registrations are re-signed and re-published. Default a third of the TTL. */
  readonly refreshIntervalMs?: number
  /** How long a resolve result is reused (never past a record's expiry). Default 5 s. */
  readonly cacheTtlMs?: number
  /** Deadline of each DHT query (put, provide, find providers, get). Default 10 s. */
  readonly queryTimeoutMs?: number
  /** Providers fetched in parallel by one resolve. Default 8. */
  readonly resolveConcurrency?: number
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
    InvalidName | RecordTooLarge | PublishRejected | DhtOperationFailed
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

interface LocalService {
  readonly name: Names.ServiceName
  readonly endpoints: Map<number, ServiceRecord.Endpoint>
  published: ServiceRecord.SignedServiceRecord | undefined
}

interface CacheEntry {
  readonly validUntil: number
  readonly records: ReadonlyArray<ServiceRecord.ServiceRecord>
}

const text = (key: Uint8Array) => new TextDecoder().decode(key)

/** Values a get query produced: its final best VALUE, plus every validated record seen on the way. */
const collectValues = (values: ReadonlyArray<Uint8Array>, event: QueryEvent) =>
  event.name === "VALUE"
    ? [...values, event.value]
    : event.name === "PEER_RESPONSE" && event.record !== undefined
      ? [...values, event.record.value]
      : values

const make = Effect.fn("Registry.make")(function* (options: RegistryOptions) {
  const { node, dht, peerId, privateKey } = yield* Libp2pNode
  const ttlMs = options.recordTtlMs ?? 60_000
  const refreshMs = options.refreshIntervalMs ?? Math.max(500, Math.floor(ttlMs / 3))
  const cacheTtlMs = options.cacheTtlMs ?? 5_000
  const queryMs = options.queryTimeoutMs ?? 10_000
  const concurrency = options.resolveConcurrency ?? 8
  const self = peerId.toString()

  const local = new Map<string, LocalService>()
  const cache = new Map<string, CacheEntry>()
  // Last sequence used per service, kept after a withdrawal so a re-registration beats its tombstone.
  const sequences = new Map<string, number>()
  const publishLock = yield* Semaphore.make(1)
  let nextEndpointId = 0

  const cacheKey = (name: Names.ServiceName) => `${name.namespace}/${name.service}`

  /** Puts a value; fails only when peers answered and none accepted it (or nothing answered in time). */
  const put = Effect.fn("Registry.put")(function* (key: Uint8Array, value: Uint8Array) {
    const { state, timedOut } = yield* drain(
      "put",
      text(key),
      queryMs,
      (signal) => dht.put(key, value, { signal }),
      { accepted: 0, refused: 0, firstError: "" },
      (s, event) =>
        event.name === "PEER_RESPONSE" && event.messageName === "PUT_VALUE"
          ? { ...s, accepted: s.accepted + 1 }
          : event.name === "QUERY_ERROR"
            ? { ...s, refused: s.refused + 1, firstError: s.firstError || event.error.message }
            : s,
    )
    if (
      state.accepted === 0 &&
      (state.refused > 0 || (timedOut && node.getConnections().length > 0))
    ) {
      return yield* new PublishRejected({
        key: text(key),
        rejections: state.refused,
        firstError: state.firstError || `no answer within ${queryMs} ms`,
      })
    }
    return state.accepted
  })

  const publish = Effect.fn("Registry.publish")(function* (entry: LocalService) {
    const now = yield* Clock.currentTimeMillis
    const sequence = Math.max((sequences.get(cacheKey(entry.name)) ?? 0) + 1, now)
    sequences.set(cacheKey(entry.name), sequence)
    const signed = yield* ServiceRecord.sign(privateKey, {
      kind: "beemesh.service/v1",
      namespace: entry.name.namespace,
      service: entry.name.service,
      provider: self,
      issuedAt: now,
      ttlMs,
      sequence,
      endpoints: [...entry.endpoints.values()],
    })
    entry.published = signed
    cache.delete(cacheKey(entry.name))
    yield* put(Names.serviceRecordKey(entry.name, self), signed.bytes)
    const cid = Names.serviceCid(entry.name)
    if (entry.endpoints.size > 0) {
      yield* drain(
        "provide",
        cid.toString(),
        queryMs,
        (signal) => dht.provide(cid, { signal }),
        0,
        (n) => n,
      )
    } else {
      yield* Effect.tryPromise(() => dht.cancelReprovide(cid)).pipe(Effect.ignore)
    }
  }, publishLock.withPermits(1))

  const withdraw = (key: string, entry: LocalService, id: number) =>
    Effect.suspend(() => {
      entry.endpoints.delete(id)
      if (entry.endpoints.size === 0) local.delete(key)
      return publish(entry)
    }).pipe(
      Effect.catch((error) => Effect.logWarning(`withdrawing ${key} failed: ${error.message}`)),
    )

  const register = Effect.fn("Registry.register")(function* (
    namespace: string,
    service: string,
    endpoint: EndpointSpec,
  ) {
    const name = yield* Names.validateServiceName(namespace, service)
    yield* Names.validateSubdomain("workload", endpoint.workload)
    yield* Names.validateSubdomain("pod", endpoint.pod)
    const key = cacheKey(name)
    const id = nextEndpointId++
    const entry = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const entry: LocalService = local.get(key) ?? {
          name,
          endpoints: new Map(),
          published: undefined,
        }
        local.set(key, entry)
        entry.endpoints.set(id, {
          workload: endpoint.workload,
          pod: endpoint.pod,
          ports: [...endpoint.ports],
          multiaddrs: [...(endpoint.multiaddrs ?? node.getMultiaddrs().map((a) => a.toString()))],
        })
        return publish(entry).pipe(
          Effect.as(entry),
          Effect.onError(() => withdraw(key, entry, id)),
        )
      }),
      (entry) => withdraw(key, entry, id),
    )
    return {
      namespace: name.namespace,
      service: name.service,
      pod: endpoint.pod,
      current: () => entry.published?.record,
    } satisfies Registration
  })

  /** Every value a DHT get for `key` found (not yet verified). */
  const getValues = (key: Uint8Array) =>
    drain(
      "get",
      text(key),
      queryMs,
      (signal) => dht.get(key, { signal }),
      [] as Uint8Array[],
      collectValues,
    ).pipe(Effect.map(({ state }) => state))

  /** The newest verified record among the values found for one provider key. */
  const newestVerified = (key: Uint8Array, values: ReadonlyArray<Uint8Array>, now: number) =>
    Effect.forEach(values, (bytes) =>
      Effect.promise(() => ServiceRecord.verifyBytes(bytes, { now, key })),
    ).pipe(
      Effect.map((results) =>
        results
          .filter(Result.isSuccess)
          .map((r) => r.success.record)
          .reduce<ServiceRecord.ServiceRecord | undefined>(
            (best, r) => (best === undefined || ServiceRecord.newer(r, best) ? r : best),
            undefined,
          ),
      ),
    )

  const fetchProviderRecord = (name: Names.ServiceName, provider: string, now: number) => {
    const key = Names.serviceRecordKey(name, provider)
    if (provider === self) {
      const published = local.get(cacheKey(name))?.published
      return newestVerified(key, published === undefined ? [] : [published.bytes], now)
    }
    return getValues(key).pipe(Effect.flatMap((values) => newestVerified(key, values, now)))
  }

  const findProviders = (name: Names.ServiceName) => {
    const cid = Names.serviceCid(name)
    return drain(
      "findProviders",
      cid.toString(),
      queryMs,
      (signal) => dht.findProviders(cid, { signal }),
      new Set<string>(),
      (found, event) => {
        if (event.name === "PROVIDER") for (const p of event.providers) found.add(p.id.toString())
        return found
      },
    ).pipe(Effect.map(({ state }) => state))
  }

  const resolve = Effect.fn("Registry.resolve")(function* (
    namespace: string,
    service: string,
    resolveOptions: ResolveOptions = {},
  ) {
    const name = yield* Names.validateServiceName(namespace, service)
    const now = yield* Clock.currentTimeMillis
    const cached = cache.get(cacheKey(name))
    if (resolveOptions.fresh !== true && cached !== undefined && now < cached.validUntil) {
      return cached.records.filter((r) => ServiceRecord.expiresAt(r) > now)
    }
    const providers = yield* findProviders(name)
    if (local.has(cacheKey(name))) providers.add(self)
    const found = yield* Effect.forEach(providers, (p) => fetchProviderRecord(name, p, now), {
      concurrency,
    })
    const records = found
      .filter(
        (r): r is ServiceRecord.ServiceRecord => r !== undefined && !ServiceRecord.isTombstone(r),
      )
      .sort((a, b) => a.provider.localeCompare(b.provider))
    if (records.length > 0) {
      const firstExpiry = Math.min(...records.map(ServiceRecord.expiresAt))
      cache.set(cacheKey(name), { validUntil: Math.min(now + cacheTtlMs, firstExpiry), records })
    } else {
      cache.delete(cacheKey(name))
    }
    return records
  })

  const fetchManifest = (namespace: string, name: string) =>
    Effect.gen(function* () {
      const key = Names.manifestKey(namespace, name)
      const values = yield* getValues(key)
      const now = yield* Clock.currentTimeMillis
      const verified = yield* Effect.forEach(values, (bytes) =>
        Effect.promise(() => ManifestRecord.verifyBytes(bytes, { now, key })),
      )
      return verified
        .filter(Result.isSuccess)
        .map((r) => r.success)
        .reduce<ManifestRecord.ManifestRecord | undefined>(
          (best, r) => (best === undefined || ManifestRecord.newer(r, best) ? r : best),
          undefined,
        )
    })

  const getManifest = Effect.fn("Registry.getManifest")(function* (
    namespace: string,
    name: string,
  ) {
    yield* Names.validateLabel("namespace", namespace)
    yield* Names.validateLabel("manifest name", name)
    const found = yield* fetchManifest(namespace, name)
    if (found === undefined) return yield* new ManifestNotFound({ namespace, name })
    return found
  })

  const putManifest = Effect.fn("Registry.putManifest")(function* (
    namespace: string,
    name: string,
    content: string,
  ) {
    yield* Names.validateLabel("namespace", namespace)
    yield* Names.validateLabel("manifest name", name)
    const existing = yield* fetchManifest(namespace, name)
    const now = yield* Clock.currentTimeMillis
    const record: ManifestRecord.ManifestRecord = {
      kind: "beemesh.manifest/v1",
      namespace,
      name,
      publisher: self,
      issuedAt: now,
      sequence: Math.max(now, (existing?.sequence ?? -1) + 1),
      content,
    }
    const bytes = yield* ManifestRecord.sign(privateKey, record)
    yield* put(Names.manifestKey(namespace, name), bytes)
    return record
  })

  // Refresh: re-sign live registrations before their TTL runs out (the DHT never republishes).
  yield* Effect.suspend(() =>
    Effect.forEach(
      [...local.values()].filter((e) => e.endpoints.size > 0),
      (entry) =>
        publish(entry).pipe(Effect.catch((e) => Effect.logWarning(`refresh failed: ${e.message}`))),
      { discard: true },
    ),
  ).pipe(Effect.delay(refreshMs), Effect.forever, Effect.forkScoped)

  return Registry.of({ register, resolve, putManifest, getManifest })
})

/**
 * The service registry: signed per-provider records on the Kad-DHT, provider records to find
 * every provider, verified resolution with a short cache, and manifests with newest-wins.
 */
export class Registry extends Context.Service<Registry, RegistryShape>()(
  "@beemesh/registry/Registry",
) {
  static readonly make = make
  static readonly layer = (options: RegistryOptions = {}) => Layer.effect(Registry, make(options))
}
