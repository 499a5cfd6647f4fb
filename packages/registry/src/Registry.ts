import type { Member } from "@beemesh/p2p"
import type { QueryEvent } from "@libp2p/kad-dht"
import {
  Clock,
  Context,
  Deferred,
  Effect,
  Layer,
  Option,
  Order,
  Result,
  Schedule,
  Semaphore,
} from "effect"
import { Catalog } from "./Catalog.js"
import { ManifestNotFound, PublishRejected } from "./Errors.js"
import { drain } from "./internal/query.js"
import { Libp2pNode } from "./Libp2pNode.js"
import * as ManifestRecord from "./ManifestRecord.js"
import * as Names from "./Names.js"
import { admit, stillMember } from "./Provenance.js"
import type {
  EndpointSpec,
  Registration,
  RegistryOptions,
  RegistryShape,
  ResolveOptions,
} from "./RegistryShape.js"
import * as ServiceRecord from "./ServiceRecord.js"

export type {
  EndpointSpec,
  RegisterError,
  Registration,
  RegistryOptions,
  RegistryShape,
  ResolveError,
  ResolveOptions,
} from "./RegistryShape.js"

interface LocalService {
  readonly name: Names.ServiceName
  readonly endpoints: Map<number, ServiceRecord.Endpoint>
  published: ServiceRecord.SignedServiceRecord | undefined
  /** When this node last announced itself as the service's provider to k peers (DHT). */
  providedAt: number | undefined
}

/** A verified record and, under a membership, who its provider was at verification. */
interface Verified {
  readonly record: ServiceRecord.ServiceRecord
  readonly member?: Member
}

interface CacheEntry {
  readonly validUntil: number
  readonly records: ReadonlyArray<Verified>
}

const text = (key: Uint8Array) => new TextDecoder().decode(key)

/** Values a get query produced: its final best VALUE, plus every validated record seen on the way. */
const collectValues = (values: ReadonlyArray<Uint8Array>, event: QueryEvent) =>
  event.name === "VALUE"
    ? [...values, event.value]
    : event.name === "PEER_RESPONSE" && event.record !== undefined
      ? [...values, event.record.value]
      : values

/** kad-dht's k (its default `kBucketSize`): how many peers closest to a key hold its records. */
const KAD_K = 20

const failedCorrection = (error: unknown) =>
  error instanceof Error && error.message === "Could not send correction"

const make = Effect.fn("Registry.make")(function* (options: RegistryOptions) {
  const { node, dht, peerId, privateKey, provenance: membership } = yield* Libp2pNode
  const ttlMs = options.recordTtlMs ?? 60_000
  const refreshMs = options.refreshIntervalMs ?? Math.max(500, Math.floor(ttlMs / 3))
  const cacheTtlMs = options.cacheTtlMs ?? 5_000
  const emptyCacheMs = options.emptyCacheMs ?? 1_000
  const serveStale = options.serveStale ?? false
  const queryMs = options.queryTimeoutMs ?? 10_000
  const concurrency = options.resolveConcurrency ?? 8
  const refreshConcurrency = options.refreshConcurrency ?? 8
  const provideIntervalMs = options.provideIntervalMs ?? 10 * 60 * 1000
  const manifestTtlMs = options.manifestTtlMs ?? 24 * 60 * 60 * 1000
  const manifestRefreshMs = Math.max(500, Math.floor(manifestTtlMs / 3))
  const self = peerId.toString()
  // With a replicated catalog beside it, the registry resolves from the catalog first and keeps
  // the DHT as the fallback (and for peers that run without a catalog).
  const catalog = Option.getOrUndefined(yield* Effect.serviceOption(Catalog))

  const local = new Map<string, LocalService>()
  const cache = new Map<string, CacheEntry>()
  const layerScope = yield* Effect.scope
  // Last sequence used per service, kept after a withdrawal so a re-registration beats its tombstone.
  const sequences = new Map<string, number>()
  // One publish at a time per service (its sequence numbers must go out in order); different
  // services publish in parallel, so a registration never waits behind another service's refresh.
  const publishLocks = new Map<string, Semaphore.Semaphore>()
  // Manifest versions this node published and still re-signs before they expire.
  const ownManifests = new Map<string, ManifestRecord.ManifestRecord>()
  let nextEndpointId = 0

  /** This agent's certificate, checked as every peer will check it, before anything is signed. */
  const ownCertificate = Effect.fn("Registry.ownCertificate")(function* (now: number) {
    if (membership === undefined) return {}
    const certificate = membership.certificate()
    const admitted = yield* Effect.promise(() => admit(certificate, self, membership, now))
    if (Result.isFailure(admitted)) return yield* admitted.failure
    return { certificate }
  })
  /** A live member (under a membership): certificate unexpired, nothing in it revoked since. */
  const live = (verified: Verified, now: number) =>
    ServiceRecord.expiresAt(verified.record) > now &&
    (membership === undefined ||
      (verified.member !== undefined && stillMember(verified.member, membership, now)))

  const cacheKey = (name: Names.ServiceName) => `${name.namespace}/${name.service}`
  const publishLock = (name: Names.ServiceName) => {
    const key = cacheKey(name)
    const existing = publishLocks.get(key)
    if (existing !== undefined) return existing
    const created = Semaphore.makeUnsafe(1)
    publishLocks.set(key, created)
    return created
  }

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

  const publishToDht = (entry: LocalService, signed: ServiceRecord.SignedServiceRecord) =>
    Effect.gen(function* () {
      yield* put(Names.serviceRecordKey(entry.name, self), signed.bytes)
      const cid = Names.serviceCid(entry.name)
      // Withdrawn: the entry has left `local`, and a new registration starts a fresh one.
      if (entry.endpoints.size === 0)
        return yield* Effect.tryPromise(() => dht.cancelReprovide(cid)).pipe(Effect.ignore)
      // The record expires and is re-put every refresh; the provider record (which only says
      // "ask this node for the service") lasts 48 h at the peers holding it, so it is announced
      // again only every provideIntervalMs: for peers that joined closer to the key since.
      const now = yield* Clock.currentTimeMillis
      if (entry.providedAt !== undefined && now - entry.providedAt < provideIntervalMs) return
      const { state: told } = yield* drain(
        "provide",
        cid.toString(),
        queryMs,
        (signal) => dht.provide(cid, { signal }),
        0,
        (n, event) =>
          event.name === "PEER_RESPONSE" && event.messageName === "ADD_PROVIDER" ? n + 1 : n,
      )
      // Fewer than k peers told: the mesh is small (or was, a moment ago) and may be growing, so
      // the next refresh announces again, as every refresh did before the interval.
      if (told >= KAD_K) entry.providedAt = now
    })

  const publish = Effect.fn("Registry.publish")(
    function* (entry: LocalService) {
      const now = yield* Clock.currentTimeMillis
      const sequence = Math.max((sequences.get(cacheKey(entry.name)) ?? 0) + 1, now)
      sequences.set(cacheKey(entry.name), sequence)
      const certified = yield* ownCertificate(now)
      const signed = yield* ServiceRecord.sign(privateKey, {
        ...certified,
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
      if (catalog === undefined) return yield* publishToDht(entry, signed)
      yield* catalog
        .publish(signed)
        .pipe(Effect.catchTag("CatalogPublishFailed", (e) => Effect.logWarning(e.message)))
      // The catalog answers resolves; the DHT copy is the fallback, written behind the caller.
      yield* publishToDht(entry, signed).pipe(
        Effect.catch((e) =>
          Effect.logWarning(`DHT copy of ${cacheKey(entry.name)} not published: ${e.message}`),
        ),
        Effect.forkIn(layerScope),
      )
    },
    (effect, entry) => publishLock(entry.name).withPermits(1)(effect),
  )

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
          providedAt: undefined,
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

  /**
   * Every value a DHT get for `key` found (not yet verified). kad-dht ends a get by sending the
   * best value to peers that answered an older one, and throws when one of those corrections
   * fails (a peer busy or gone): the values already found are still the answer.
   */
  const getValues = (key: Uint8Array) =>
    drain(
      "get",
      text(key),
      queryMs,
      (signal) => dht.get(key, { signal }),
      [] as Uint8Array[],
      collectValues,
      failedCorrection,
    ).pipe(Effect.map(({ state }) => state))

  const policy = membership === undefined ? {} : { membership }

  /** The newest verified record among the values found for one provider key. */
  const newestVerified = (key: Uint8Array, values: ReadonlyArray<Uint8Array>, now: number) =>
    Effect.forEach(values, (bytes) =>
      Effect.promise(() => ServiceRecord.verifyBytes(bytes, { now, key, ...policy })),
    ).pipe(
      Effect.map((results) =>
        results
          .filter(Result.isSuccess)
          .map(
            ({ success }): Verified => ({
              record: success.record,
              ...(success.member === undefined ? {} : { member: success.member }),
            }),
          )
          .reduce<Verified | undefined>(
            (best, r) =>
              best === undefined || ServiceRecord.newer(r.record, best.record) ? r : best,
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

  /** Asks the DHT for every provider's record and caches the live ones. */
  const lookup = (name: Names.ServiceName) =>
    Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      const providers = yield* findProviders(name)
      if (local.has(cacheKey(name))) providers.add(self)
      const found = yield* Effect.forEach(
        providers,
        (p) => fetchProviderRecord(name, p, startedAt),
        { concurrency },
      )
      const records = found
        .filter((r): r is Verified => r !== undefined && !ServiceRecord.isTombstone(r.record))
        .sort(Order.mapInput(Order.String, (r: Verified) => r.record.provider))
      // Counted from now: a lookup that waited on an unreachable peer must not cache a stale answer.
      const now = yield* Clock.currentTimeMillis
      if (records.length > 0) {
        const firstExpiry = Math.min(
          ...records.map((r) =>
            Math.min(ServiceRecord.expiresAt(r.record), r.member?.expiresAt ?? Infinity),
          ),
        )
        cache.set(cacheKey(name), { validUntil: Math.min(now + cacheTtlMs, firstExpiry), records })
      } else if (emptyCacheMs > 0) {
        cache.set(cacheKey(name), { validUntil: now + emptyCacheMs, records: [] })
      } else {
        cache.delete(cacheKey(name))
      }
      return liveRecords(records, now)
    })

  type LookupError = Effect.Error<ReturnType<typeof lookup>>
  // One DHT lookup at a time per service: callers arriving while one is under way share it (a
  // burst of connections to a service not cached, or not provided, is one walk, not one each). It
  // runs in the layer's scope, so a caller that gives up does not end it for the others; ended
  // with the layer, it interrupts the callers still waiting.
  const lookups = new Map<
    string,
    Deferred.Deferred<ReadonlyArray<ServiceRecord.ServiceRecord>, LookupError>
  >()
  const sharedLookup = (name: Names.ServiceName) =>
    Effect.suspend(() => {
      const key = cacheKey(name)
      const pending = lookups.get(key)
      if (pending !== undefined) return Deferred.await(pending)
      const done = Deferred.makeUnsafe<ReadonlyArray<ServiceRecord.ServiceRecord>, LookupError>()
      lookups.set(key, done)
      return lookup(name).pipe(
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(done, exit)),
        Effect.onInterrupt(() => Deferred.interrupt(done)),
        Effect.ensuring(Effect.sync(() => lookups.delete(key))),
        Effect.forkIn(layerScope),
        Effect.andThen(Deferred.await(done)),
      )
    })

  // Every answer, cached or fresh, is re-checked: an agent revoked after its records were verified
  // disappears from the next resolve, without a lookup.
  const liveRecords = (records: ReadonlyArray<Verified>, now: number) =>
    records.filter((r) => live(r, now)).map((r) => r.record)

  const refreshInBackground = (name: Names.ServiceName) => {
    const key = cacheKey(name)
    // One lookup at a time per service (sharedLookup): none is started while one is under way.
    if (lookups.has(key)) return Effect.void
    return sharedLookup(name).pipe(
      Effect.catch((e) => Effect.logDebug(`background resolve of ${key} failed: ${e.message}`)),
      Effect.forkIn(layerScope),
      Effect.asVoid,
    )
  }

  const resolve = Effect.fn("Registry.resolve")(function* (
    namespace: string,
    service: string,
    resolveOptions: ResolveOptions = {},
  ) {
    const name = yield* Names.validateServiceName(namespace, service)
    const now = yield* Clock.currentTimeMillis
    if (catalog !== undefined) {
      const replicated = catalog.lookup(name.namespace, name.service, now)
      // A withdrawn or expired entry is an answer too: the DHT's copies are no newer.
      if (replicated.length > 0 || catalog.holds(name.namespace, name.service)) return replicated
    }
    const cached = cache.get(cacheKey(name))
    if (resolveOptions.fresh !== true && cached !== undefined) {
      const current = liveRecords(cached.records, now)
      if (now < cached.validUntil) return current
      if (serveStale && current.length > 0) {
        yield* refreshInBackground(name)
        return current
      }
    }
    return yield* sharedLookup(name)
  })

  const fetchManifest = (namespace: string, name: string) =>
    Effect.gen(function* () {
      const key = Names.manifestKey(namespace, name)
      const values = yield* getValues(key)
      const now = yield* Clock.currentTimeMillis
      const verified = yield* Effect.forEach(values, (bytes) =>
        Effect.promise(() => ManifestRecord.verifyBytes(bytes, { now, key, ...policy })),
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
    return yield* publishManifest({
      kind: "beemesh.manifest/v1",
      namespace,
      name,
      publisher: self,
      issuedAt: now,
      sequence: Math.max(now, (existing?.sequence ?? -1) + 1),
      ttlMs: manifestTtlMs,
      content,
    })
  })

  /** Signs (with this agent's certificate) and stores a version; keeps it to re-sign later. */
  const publishManifest = Effect.fn("Registry.publishManifest")(function* (
    draft: ManifestRecord.ManifestRecord,
  ) {
    const { certificate: _previous, ...rest } = draft
    const record: ManifestRecord.ManifestRecord = {
      ...rest,
      ...(yield* ownCertificate(draft.issuedAt)),
    }
    const bytes = yield* ManifestRecord.sign(privateKey, record)
    const key = Names.manifestKey(record.namespace, record.name)
    yield* put(key, bytes)
    ownManifests.set(text(key), record)
    return record
  })

  /**
   * Re-signs a version this node published (same sequence, new issue time) unless a newer
   * version has replaced it: then the newer one's publisher keeps it alive, and this node lets go.
   */
  const refreshManifest = (mine: ManifestRecord.ManifestRecord) =>
    Effect.gen(function* () {
      const current = yield* fetchManifest(mine.namespace, mine.name)
      if (current !== undefined && current.sequence > mine.sequence) {
        ownManifests.delete(text(Names.manifestKey(mine.namespace, mine.name)))
        return
      }
      const now = yield* Clock.currentTimeMillis
      yield* publishManifest({ ...mine, issuedAt: now })
    })

  // Refresh: re-sign live registrations before their TTL runs out (the DHT never republishes).
  // Rounds start at a fixed rate (a slow round is followed at once by the next, not after a
  // further interval), and services within a round publish with bounded parallelism.
  yield* Effect.suspend(() =>
    Effect.forEach(
      [...local.values()].filter((e) => e.endpoints.size > 0),
      (entry) =>
        publish(entry).pipe(Effect.catch((e) => Effect.logWarning(`refresh failed: ${e.message}`))),
      { concurrency: refreshConcurrency, discard: true },
    ),
  ).pipe(Effect.repeat(Schedule.fixed(refreshMs)), Effect.delay(refreshMs), Effect.forkScoped)

  yield* Effect.suspend(() =>
    Effect.forEach(
      [...ownManifests.values()],
      (mine) =>
        refreshManifest(mine).pipe(
          Effect.catch((e) =>
            Effect.logWarning(
              `re-publishing manifest ${mine.namespace}/${mine.name} failed: ${e.message}`,
            ),
          ),
        ),
      { concurrency: refreshConcurrency, discard: true },
    ),
  ).pipe(
    Effect.repeat(Schedule.fixed(manifestRefreshMs)),
    Effect.delay(manifestRefreshMs),
    Effect.forkScoped,
  )

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
