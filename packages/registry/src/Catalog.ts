import { TopicValidatorResult } from "@libp2p/gossipsub"
import type { Connection, PeerId, Stream } from "@libp2p/interface"
import { peerIdFromString } from "@libp2p/peer-id"
import { Clock, Context, Data, Effect, Layer, Queue, Result, Schedule } from "effect"
import { CatalogStore, DEFAULT_CATALOG_QUOTA } from "./CatalogStore.js"
import {
  CatalogPublishFailed,
  CatalogUnavailable,
  type RecordRejected,
  type RejectionReason,
} from "./Errors.js"
import { catalogTopic } from "./internal/CatalogGossip.js"
import { readRecords, writeRecords } from "./internal/RecordFrames.js"
import type { SignerQuotaLimits } from "./internal/SignerQuota.js"
import { Libp2pNode } from "./Libp2pNode.js"
import * as ServiceRecord from "./ServiceRecord.js"

export { catalogTopic } from "./internal/CatalogGossip.js"

/**
 * The replicated service catalog: every agent holds every live service record of the mesh (the
 * newest per service and signer), so resolving is a local lookup. Records travel on a gossipsub
 * topic per mesh; each is verified as the DHT verifies it before it is stored or forwarded, and a
 * peer whose records are refused loses gossipsub score until it is ignored. A node that joins
 * asks a few peers for their whole catalog on `CATALOG_SYNC_PROTOCOL`, and every node asks one
 * random peer again now and then, so nothing missed while offline or partitioned stays missing.
 */

/** Protocol on which a peer answers with every live record of its catalog. */
export const CATALOG_SYNC_PROTOCOL = "/beemesh/catalog-sync/1.0.0"

/** Bounds on one sync answer: far above a real catalog, far below what would hurt a node. */
const SYNC_LIMITS = {
  maxRecordBytes: ServiceRecord.MAX_BYTES,
  maxRecords: 65_536,
  maxTotalBytes: 64 * 1024 * 1024,
}

export interface CatalogOptions {
  /** Peers asked for their whole catalog as soon as they are seen on the topic. Default 3. */
  readonly joinSyncPeers?: number
  /** How often one random peer on the topic is asked for its whole catalog. Default 30 s. */
  readonly syncIntervalMs?: number
  /** Bound on one sync exchange. Default 10 s. */
  readonly syncTimeoutMs?: number
  /** How often expired entries and those of revoked signers are removed. Default 5 s. */
  readonly sweepIntervalMs?: number
  /** Records and bytes one signer may keep in the catalog. Default {@link DEFAULT_CATALOG_QUOTA}. */
  readonly quota?: SignerQuotaLimits
}

/** Counters since start. */
export interface CatalogStats {
  /** Entries held now (tombstones included). */
  readonly entries: number
  /** Records stored (new or newer versions), from gossip, sync or this node. */
  readonly stored: number
  /** Copies dropped because this or a newer version was held. */
  readonly stale: number
  /** Records refused, by reason. */
  readonly rejected: Readonly<Partial<Record<RejectionReason, number>>>
  /** Sync exchanges completed (asked by this node). */
  readonly syncs: number
}

/** A sync exchange with a peer failed (it went, is no catalog node, or sent garbage). */
export class CatalogSyncFailed extends Data.TaggedError("CatalogSyncFailed")<{
  readonly peer: string
  readonly cause: unknown
}> {
  override get message() {
    return `catalog sync with ${this.peer} failed: ${String(this.cause)}`
  }
}

export interface CatalogShape {
  /** The gossipsub topic of this mesh's catalog. */
  readonly topic: string
  /** Stores this node's own newly signed record, then publishes it to the mesh. */
  readonly publish: (
    signed: ServiceRecord.SignedServiceRecord,
  ) => Effect.Effect<void, RecordRejected | CatalogPublishFailed>
  /** Live records of a service held here, by provider (see CatalogStore.lookup). */
  readonly lookup: (
    namespace: string,
    service: string,
    now: number,
  ) => ReadonlyArray<ServiceRecord.ServiceRecord>
  /** Whether any entry of the service is held (withdrawn or expired ones included). */
  readonly holds: (namespace: string, service: string) => boolean
  /** Asks `peer` for its whole catalog now; answers how many records it sent. */
  readonly sync: (peer: PeerId | string) => Effect.Effect<number, CatalogSyncFailed>
  /** Calls `listener` with every record stored from now on. */
  readonly onStored: (listener: (record: ServiceRecord.ServiceRecord) => void) => () => void
  /** Calls `listener` with every record refused from now on, and the peer that sent it. */
  readonly onRejected: (listener: (rejection: CatalogRejection) => void) => () => void
  readonly stats: () => CatalogStats
}

/** A record a peer sent (by gossip or sync) that failed verification or its signer's quota. */
export interface CatalogRejection {
  /** The peer that sent it to this node (not necessarily its signer). */
  readonly from: string
  readonly error: RecordRejected
}

const make = Effect.fn("Catalog.make")(function* (options: CatalogOptions) {
  const { node, pubsub, peerId, provenance } = yield* Libp2pNode
  if (pubsub === undefined) return yield* new CatalogUnavailable({ peerId: peerId.toString() })
  const topic = catalogTopic(provenance?.authority)
  const store = new CatalogStore({
    ...(provenance === undefined ? {} : { membership: provenance }),
    quota: options.quota ?? DEFAULT_CATALOG_QUOTA,
  })
  const syncTimeoutMs = options.syncTimeoutMs ?? 10_000
  const joinSyncPeers = options.joinSyncPeers ?? 3
  const counts = { stored: 0, stale: 0, syncs: 0 }
  const rejected: Partial<Record<RejectionReason, number>> = {}
  const rejectionListeners = new Set<(rejection: CatalogRejection) => void>()

  /** Offers a record from `from`; what gossipsub should do with the message it came in. */
  const offer = async (bytes: Uint8Array, from: string) => {
    const outcome = await store.offer(bytes, Date.now())
    if (Result.isFailure(outcome)) {
      const reason = outcome.failure.reason
      rejected[reason] = (rejected[reason] ?? 0) + 1
      for (const listener of rejectionListeners) listener({ from, error: outcome.failure })
      return TopicValidatorResult.Reject
    }
    if (outcome.success === "stale") {
      counts.stale++
      return TopicValidatorResult.Ignore
    }
    counts.stored++
    return TopicValidatorResult.Accept
  }

  // Gossipsub forwards a message only once its validator accepted it, and charges a Reject to the
  // peer that sent it: storing here means nothing unverified is ever kept or passed on.
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      pubsub.topicValidators.set(topic, (peer, message) => offer(message.data, peer.toString()))
      pubsub.subscribe(topic)
    }),
    () =>
      Effect.sync(() => {
        pubsub.unsubscribe(topic)
        pubsub.topicValidators.delete(topic)
      }),
  )

  const answer = async (stream: Stream, _connection: Connection) => {
    const signal = AbortSignal.timeout(syncTimeoutMs)
    await writeRecords(stream, store.signed(Date.now()), signal).catch((error: unknown) =>
      stream.abort(error instanceof Error ? error : new Error(String(error))),
    )
  }
  yield* Effect.acquireRelease(
    Effect.promise(() => node.handle(CATALOG_SYNC_PROTOCOL, answer, { maxInboundStreams: 4 })),
    () => Effect.promise(() => node.unhandle(CATALOG_SYNC_PROTOCOL).catch(() => {})),
  )

  const sync = Effect.fn("Catalog.sync")(function* (peer: PeerId | string) {
    const id = typeof peer === "string" ? peerIdFromString(peer) : peer
    const received = yield* Effect.tryPromise({
      try: async (interrupt) => {
        const signal = AbortSignal.any([interrupt, AbortSignal.timeout(syncTimeoutMs)])
        const stream = await node.dialProtocol(id, CATALOG_SYNC_PROTOCOL, { signal })
        const abort = () => stream.abort(new Error(`no complete answer within ${syncTimeoutMs} ms`))
        signal.addEventListener("abort", abort, { once: true })
        const offers: Array<Promise<unknown>> = []
        // Reading starts before anything is awaited: a stream drops data that arrives while
        // nobody listens, and the answer may arrive (and end) at once.
        const reading = readRecords(stream, SYNC_LIMITS, (bytes) =>
          offers.push(offer(bytes, id.toString())),
        )
        const read = await Promise.all([reading, stream.close({ signal })])
          .then(([count]) => count)
          .finally(() => signal.removeEventListener("abort", abort))
        await Promise.all(offers)
        if (typeof read === "string") throw new Error(read)
        return read
      },
      catch: (cause) => new CatalogSyncFailed({ peer: id.toString(), cause }),
    })
    counts.syncs++
    return received
  })

  // Anti-entropy on join: the first peers seen on the topic are asked for their catalog (a failed
  // exchange frees its slot for the next peer). Listeners only queue; one fiber does the work.
  const joining = yield* Queue.unbounded<string>()
  let joinSlots = joinSyncPeers
  const seen = (
    event: CustomEvent<{ peerId: PeerId; subscriptions: { topic: string; subscribe: boolean }[] }>,
  ) => {
    if (joinSlots <= 0) return
    if (!event.detail.subscriptions.some((s) => s.topic === topic && s.subscribe)) return
    joinSlots--
    Queue.offerUnsafe(joining, event.detail.peerId.toString())
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => pubsub.addEventListener("subscription-change", seen)),
    () => Effect.sync(() => pubsub.removeEventListener("subscription-change", seen)),
  )
  yield* Queue.take(joining).pipe(
    Effect.flatMap((peer) =>
      sync(peer).pipe(
        Effect.catch((error) =>
          Effect.sync(() => {
            joinSlots++
          }).pipe(Effect.andThen(Effect.logDebug(error.message))),
        ),
      ),
    ),
    Effect.forever,
    Effect.forkScoped,
  )

  const randomPeer = () => {
    const peers = pubsub.getSubscribers(topic)
    return peers[Math.floor(Math.random() * peers.length)]
  }
  yield* Effect.suspend(() => {
    const peer = randomPeer()
    return peer === undefined
      ? Effect.void
      : sync(peer).pipe(
          Effect.asVoid,
          Effect.catch((error) => Effect.logDebug(error.message)),
        )
  }).pipe(
    Effect.repeat(Schedule.spaced(options.syncIntervalMs ?? 30_000)),
    Effect.delay(options.syncIntervalMs ?? 30_000),
    Effect.forkScoped,
  )

  yield* Clock.currentTimeMillis.pipe(
    Effect.map((now) => store.sweep(now)),
    Effect.repeat(Schedule.spaced(options.sweepIntervalMs ?? 5_000)),
    Effect.forkScoped,
  )

  const publish = Effect.fn("Catalog.publish")(function* (
    signed: ServiceRecord.SignedServiceRecord,
  ) {
    const now = yield* Clock.currentTimeMillis
    const stored = yield* Effect.promise(() => store.offer(signed.bytes, now))
    if (Result.isFailure(stored)) return yield* stored.failure
    if (stored.success === "stored") counts.stored++
    yield* Effect.tryPromise({
      try: () => pubsub.publish(topic, signed.bytes),
      catch: (cause) =>
        new CatalogPublishFailed({
          service: `${signed.record.namespace}/${signed.record.service}`,
          cause,
        }),
    })
  })

  return Catalog.of({
    topic,
    publish,
    lookup: store.lookup,
    holds: store.holds,
    sync,
    onStored: store.onStored,
    onRejected: (listener) => {
      rejectionListeners.add(listener)
      return () => rejectionListeners.delete(listener)
    },
    stats: () => ({ entries: store.size(), ...counts, rejected: { ...rejected } }),
  })
})

/**
 * The replicated service catalog on the node's gossipsub (start the node with `catalog: true`).
 * A Registry built where this service is present resolves from it first and publishes into it.
 */
export class Catalog extends Context.Service<Catalog, CatalogShape>()("@beemesh/registry/Catalog") {
  static readonly make = make
  static readonly layer = (options: CatalogOptions = {}) => Layer.effect(Catalog, make(options))
}
