/**
 * ServiceDirectory over @beemesh/registry: a sidecar's registration becomes one DHT registration
 * per service, held in a scope of its own for as long as the sidecar renews its lease. A pod that
 * unregisters, or whose lease runs out (the sidecar died), is withdrawn (tombstones in the DHT).
 */
import { Catalog, Registry, type RegistryOptions } from "@beemesh/registry"
import { Clock, Duration, Effect, Exit, Layer, Option, Schedule, Scope } from "effect"
import {
  type DirectoryChanges,
  DirectoryUnavailable,
  type Lease,
  type Provider,
  type Registration,
  ServiceDirectory,
} from "./Directory"
import type { PodIdentity } from "./Tokens"

/**
 * A pod's services (each port of a multi-port Service is a name of its own) registered at once, at
 * most this many at a time: each publish walks the DHT, holding kad streams to the same few peers.
 */
export const REGISTER_CONCURRENCY = 4

export interface RegistryDirectoryOptions {
  /** How long a registration lives without renewal (default 30 s). */
  readonly leaseSeconds?: number
}

interface Held {
  readonly scope: Scope.Closeable
  readonly namespace: string
  readonly services: ReadonlyArray<{ readonly name: string }>
  /** What was registered, to tell a renewal from a change. */
  readonly fingerprint: string
  expiresAt: number
}

const podKey = (identity: PodIdentity) => `${identity.namespace}/${identity.pod}`

/** Endpoint addresses carry the sidecar's peer id, so that resolvers know whom they dial. */
/** The peer an address reaches: its last `/p2p/<id>` (a circuit address names its relay first). */
export const peerIdOf = (address: string) => /\/p2p\/([^/]+)$/.exec(address)?.[1]

/** The address ending in the sidecar's peer id (`<relay>/p2p-circuit` gains `/p2p/<sidecar>`). */
export const withPeerId = (address: string, peerId: string) =>
  peerIdOf(address) === undefined ? `${address}/p2p/${peerId}` : address

const unavailable = (error: { readonly message: string }) =>
  new DirectoryUnavailable({ reason: error.message })

/**
 * Change signals per service: a generation number each, and the watches waiting on it. A service's
 * entry stays once made (a number per service name this agent has seen).
 */
export const makeChangeSignals = (recheckMs: number) => {
  const generations = new Map<string, number>()
  const waiters = new Map<string, Set<() => void>>()
  const keyOf = (namespace: string, service: string) => `${namespace}/${service}`
  const signal = (namespace: string, service: string) => {
    const key = keyOf(namespace, service)
    generations.set(key, (generations.get(key) ?? 0) + 1)
    const waiting = waiters.get(key)
    if (waiting === undefined) return
    waiters.delete(key)
    for (const wake of waiting) wake()
  }
  const generation = (namespace: string, service: string) =>
    generations.get(keyOf(namespace, service)) ?? 0
  const awaitChange = (namespace: string, service: string, since: number, timeoutMs: number) =>
    Effect.callback<void>((resume) => {
      if (generation(namespace, service) !== since) return resume(Effect.void)
      const key = keyOf(namespace, service)
      const waiting = waiters.get(key) ?? new Set<() => void>()
      waiters.set(key, waiting)
      const done = () => {
        clearTimeout(timer)
        waiting.delete(done)
        if (waiting.size === 0 && waiters.get(key) === waiting) waiters.delete(key)
        resume(Effect.void)
      }
      const timer = setTimeout(done, Math.max(0, timeoutMs))
      waiting.add(done)
      return Effect.sync(() => {
        clearTimeout(timer)
        waiting.delete(done)
        if (waiting.size === 0 && waiters.get(key) === waiting) waiters.delete(key)
      })
    })
  const changes: DirectoryChanges = { generation, awaitChange, recheckMs }
  return { signal, changes, waiting: () => [...waiters.values()].reduce((n, s) => n + s.size, 0) }
}

export const makeRegistryDirectory = (options: RegistryDirectoryOptions = {}) =>
  Effect.gen(function* () {
    const registry = yield* Registry
    const catalog = yield* Effect.serviceOption(Catalog)
    const leaseSeconds = options.leaseSeconds ?? 30
    const held = new Map<string, Held>()
    // With the catalog every change anywhere in the mesh is a record stored here (withdrawals are
    // tombstones); only lapses go unsignalled. Without it, other agents' changes are seen only by
    // resolving again.
    const signals = makeChangeSignals(Option.isSome(catalog) ? 5_000 : 1_000)
    if (Option.isSome(catalog)) {
      const stop = catalog.value.onStored((record) =>
        signals.signal(record.namespace, record.service),
      )
      yield* Effect.addFinalizer(() => Effect.sync(stop))
    }
    const signalServices = (namespace: string, services: ReadonlyArray<{ name: string }>) => {
      for (const service of services) signals.signal(namespace, service.name)
    }

    const release = (key: string) =>
      Effect.gen(function* () {
        const entry = held.get(key)
        if (entry === undefined) return
        held.delete(key)
        yield* Scope.close(entry.scope, Exit.void)
        signalServices(entry.namespace, entry.services)
      })

    const register = Effect.fn("ServiceDirectory.register")(function* (registration: Registration) {
      const key = podKey(registration.identity)
      const now = yield* Clock.currentTimeMillis
      const multiaddrs = registration.multiaddrs.map((a) => withPeerId(a, registration.peerId))
      const fingerprint = JSON.stringify([multiaddrs, registration.services])
      const existing = held.get(key)
      if (existing !== undefined && existing.fingerprint === fingerprint) {
        existing.expiresAt = now + leaseSeconds * 1000
      } else {
        yield* release(key)
        const scope = yield* Scope.make()
        yield* Effect.forEach(
          registration.services,
          (service) =>
            registry.register(registration.identity.namespace, service.name, {
              workload: registration.identity.workload,
              pod: registration.identity.pod,
              ports: [{ port: service.port }],
              multiaddrs,
            }),
          { concurrency: REGISTER_CONCURRENCY, discard: true },
        ).pipe(
          Scope.provide(scope),
          Effect.onError(() => Scope.close(scope, Exit.void)),
          Effect.mapError(unavailable),
        )
        held.set(key, {
          scope,
          namespace: registration.identity.namespace,
          services: registration.services,
          fingerprint,
          expiresAt: now + leaseSeconds * 1000,
        })
        signalServices(registration.identity.namespace, registration.services)
        yield* Effect.logInfo(
          `registered ${registration.services.map((s) => s.name).join(", ") || "no services"} for pod ${key}`,
        )
      }
      return {
        ttlSeconds: leaseSeconds,
        renewAfterSeconds: Math.max(1, Math.floor(leaseSeconds / 3)),
      } satisfies Lease
    })

    const unregister = Effect.fn("ServiceDirectory.unregister")(function* (identity: PodIdentity) {
      if (held.has(podKey(identity))) yield* Effect.logInfo(`unregistered pod ${podKey(identity)}`)
      yield* release(podKey(identity))
    })

    const resolve = Effect.fn("ServiceDirectory.resolve")(function* (
      namespace: string,
      service: string,
    ) {
      const records = yield* registry.resolve(namespace, service).pipe(Effect.mapError(unavailable))
      const providers: Array<Provider> = []
      for (const record of records) {
        for (const endpoint of record.endpoints) {
          const peerId = endpoint.multiaddrs.map(peerIdOf).find((id) => id !== undefined)
          if (peerId === undefined) continue
          providers.push({
            peerId,
            multiaddrs: endpoint.multiaddrs,
            pod: endpoint.pod,
            workload: endpoint.workload,
          })
        }
      }
      return providers
    })

    // Leases that ran out belong to sidecars that died without unregistering.
    yield* Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      for (const [key, entry] of [...held]) {
        if (entry.expiresAt <= now) {
          yield* Effect.logWarning(`lease of pod ${key} expired; withdrawing its services`)
          yield* release(key)
        }
      }
    }).pipe(Effect.repeat(Schedule.spaced(Duration.seconds(1))), Effect.forkScoped)

    yield* Effect.addFinalizer(() => Effect.forEach([...held.keys()], release, { discard: true }))

    return ServiceDirectory.of({
      register,
      unregister: (identity) => unregister(identity),
      resolve: (namespace, service) => resolve(namespace, service),
      changes: signals.changes,
    })
  })

export const registryDirectoryLayer = (options: RegistryDirectoryOptions = {}) =>
  Layer.effect(ServiceDirectory, makeRegistryDirectory(options))

/**
 * The directory over a registry on the libp2p node in context. With `catalog` (the agent's
 * default) the replicated catalog runs beside the registry: resolves are local lookups and the DHT
 * is the fallback; the node must then run gossipsub (Libp2pNodeOptions.catalog). Without it,
 * registrations and resolves go through the DHT alone.
 */
export const registryDirectoryStack = (options: {
  readonly catalog: boolean
  readonly directory?: RegistryDirectoryOptions
  readonly registry?: RegistryOptions
}) => {
  const directory = registryDirectoryLayer(options.directory).pipe(
    Layer.provideMerge(Registry.layer(options.registry)),
  )
  return options.catalog ? directory.pipe(Layer.provideMerge(Catalog.layer())) : directory
}
