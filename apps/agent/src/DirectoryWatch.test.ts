import type { Resolution } from "@beemesh/contract"
import { Catalog, type CatalogShape, Registry, type ServiceRecord } from "@beemesh/registry"
import { it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect } from "vitest"
import type { ServiceDirectory } from "./Directory"
import { providersVersion, resolveWatched } from "./DirectoryWatch"
import { makeChangeSignals, makeRegistryDirectory } from "./RegistryDirectory"

const provider = (pod: string): Resolution.Provider => ({
  peerId: `12D3KooW${pod}`,
  multiaddrs: [`/ip4/127.0.0.1/tcp/4100${pod.length}/p2p/12D3KooW${pod}`],
  pod,
  workload: "web",
})

/** A directory over a mutable provider list, with change signals (recheck every `recheckMs`). */
const directoryOf = (recheckMs = 5_000) => {
  const providers: Array<Resolution.Provider> = []
  const signals = makeChangeSignals(recheckMs)
  let resolves = 0
  const directory: ServiceDirectory["Service"] = {
    register: () => Effect.die("not used"),
    unregister: () => Effect.die("not used"),
    resolve: () =>
      Effect.sync(() => {
        resolves++
        return [...providers]
      }),
    changes: signals.changes,
  }
  return { providers, signals, directory, resolves: () => resolves }
}

const same = (providers: ReadonlyArray<Resolution.Provider>) => providers
const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

describe("change signals", () => {
  it.effect("a wait returns at once when the generation already moved, else on the signal", () =>
    Effect.gen(function* () {
      const { signals } = directoryOf()
      const since = signals.changes.generation("shop", "web")
      signals.signal("shop", "web")
      yield* signals.changes.awaitChange("shop", "web", since, 60_000)
      const now = signals.changes.generation("shop", "web")
      const waiting = yield* signals.changes
        .awaitChange("shop", "web", now, 60_000)
        .pipe(Effect.forkChild)
      yield* settle
      expect(signals.waiting()).toBe(1)
      // Another service's change does not wake it.
      signals.signal("shop", "orders")
      yield* settle
      expect(waiting.pollUnsafe()).toBeUndefined()
      signals.signal("shop", "web")
      yield* Fiber.join(waiting)
      expect(signals.waiting()).toBe(0)
    }),
  )

  it.live("a wait ends after its timeout; an interrupted wait leaves no waiter", () =>
    Effect.gen(function* () {
      const { signals } = directoryOf()
      const started = Date.now()
      yield* signals.changes.awaitChange("shop", "web", 0, 30)
      expect(Date.now() - started).toBeGreaterThanOrEqual(29)
      expect(signals.waiting()).toBe(0)
      const waiting = yield* signals.changes
        .awaitChange("shop", "web", 0, 60_000)
        .pipe(Effect.forkChild)
      yield* Effect.sleep(10)
      expect(signals.waiting()).toBe(1)
      yield* Fiber.interrupt(waiting)
      expect(signals.waiting()).toBe(0)
    }),
  )
})

describe("a watch on a service's providers", () => {
  it.effect(
    "answers at once without a version held, or with another version than the current",
    () =>
      Effect.gen(function* () {
        const { providers, directory } = directoryOf()
        providers.push(provider("web-0"))
        const plain = yield* resolveWatched(directory, "shop", "web", same, undefined, 20_000)
        expect(plain).toEqual({ providers, version: providersVersion(providers) })
        const stale = yield* resolveWatched(directory, "shop", "web", same, "old", 20_000)
        expect(stale.version).toBe(plain.version)
      }),
  )

  it.effect("held while the set is the caller's: a signal with no change keeps it held", () =>
    Effect.gen(function* () {
      const { providers, signals, directory } = directoryOf()
      const version = providersVersion([])
      const held = yield* resolveWatched(directory, "shop", "web", same, version, 20_000).pipe(
        Effect.forkChild,
      )
      yield* settle
      signals.signal("shop", "web")
      yield* settle
      expect(held.pollUnsafe()).toBeUndefined()
      providers.push(provider("web-0"))
      signals.signal("shop", "web")
      const answer = yield* Fiber.join(held)
      expect(answer.providers).toEqual([provider("web-0")])
      expect(answer.version).toBe(providersVersion([provider("web-0")]))
    }),
  )

  it.effect("answered with the same version once the hold runs out", () =>
    Effect.gen(function* () {
      const { directory, signals } = directoryOf(60_000)
      const version = providersVersion([])
      const held = yield* resolveWatched(directory, "shop", "web", same, version, 20_000).pipe(
        Effect.forkChild,
      )
      yield* settle
      yield* TestClock.adjust(19_999)
      yield* settle
      expect(held.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(1)
      yield* settle
      // The wait's timer runs on real time, not the test clock's: a signal (with no change)
      // ends it, as a recheck would; the hold is over, so the same version is answered.
      signals.signal("shop", "web")
      const answer = yield* Fiber.join(held)
      expect(answer).toEqual({ providers: [], version })
    }),
  )

  it.live("a change nobody signalled (a lapsed record) is found at the next recheck", () =>
    Effect.gen(function* () {
      const { providers, directory, resolves } = directoryOf(40)
      providers.push(provider("web-0"))
      const version = providersVersion(providers)
      const started = Date.now()
      const held = yield* resolveWatched(directory, "shop", "web", same, version, 20_000).pipe(
        Effect.forkChild,
      )
      yield* Effect.sleep(100)
      providers.length = 0
      const answer = yield* Fiber.join(held)
      expect(answer.providers).toEqual([])
      // Well before the 20 s hold ends (a loaded machine can delay the 40 ms rechecks).
      expect(Date.now() - started).toBeLessThan(10_000)
      // Resolved once, then about once per recheck.
      expect(resolves()).toBeGreaterThanOrEqual(3)
    }),
  )

  it.effect("presents the providers as the caller sees them, and versions what it presents", () =>
    Effect.gen(function* () {
      const { providers, directory } = directoryOf()
      providers.push(provider("web-0"))
      const hidden = (list: ReadonlyArray<Resolution.Provider>) =>
        list.map((p) => ({
          ...p,
          multiaddrs: p.multiaddrs.map((m) => m.replace("127.0.0.1", "10.0.2.2")),
        }))
      const answer = yield* resolveWatched(directory, "shop", "web", hidden, undefined, 20_000)
      expect(answer.providers[0]?.multiaddrs[0]).toContain("/ip4/10.0.2.2/")
      expect(answer.version).toBe(providersVersion(hidden(providers)))
    }),
  )

  it.effect("a directory without change signals answers at once, without a version", () =>
    Effect.gen(function* () {
      const { providers, directory } = directoryOf()
      providers.push(provider("web-0"))
      const { changes: _, ...polled } = directory
      const answer = yield* resolveWatched(polled, "shop", "web", same, "anything", 20_000)
      expect(answer).toEqual({ providers })
    }),
  )
})

describe("the registry directory's change signals", () => {
  const registry = Registry.of({
    register: (namespace, service) =>
      Effect.succeed({ namespace, service, pod: "web-0", current: () => undefined }),
    resolve: () => Effect.succeed([]),
    putManifest: () => Effect.die("not used"),
    getManifest: () => Effect.die("not used"),
  })
  const registration = {
    identity: { namespace: "shop", workload: "web", pod: "web-0" },
    peerId: "12D3KooWweb",
    multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
    services: [{ name: "web", port: 80 }],
  }

  it.effect("move on a registration, a changed one and an unregistration; not on a renewal", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const directory = yield* makeRegistryDirectory().pipe(
          Effect.provideService(Registry, registry),
        )
        const changes = directory.changes
        if (changes === undefined) throw new Error("the registry directory has change signals")
        const at = () => changes.generation("shop", "web")
        expect(at()).toBe(0)
        yield* directory.register(registration)
        expect(at()).toBe(1)
        yield* directory.register(registration)
        expect(at()).toBe(1)
        yield* directory.register({ ...registration, multiaddrs: ["/ip4/127.0.0.1/tcp/40124"] })
        // Withdrawn, then registered anew.
        expect(at()).toBe(3)
        yield* directory.unregister(registration.identity)
        expect(at()).toBe(4)
        expect(changes.recheckMs).toBe(1_000)
      }),
    ),
  )

  it.effect("with the catalog, move on every record it stores", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const listeners: Array<(record: ServiceRecord.ServiceRecord) => void> = []
        const unused = () => {
          throw new Error("not used")
        }
        const catalog: CatalogShape = {
          topic: "t",
          publish: unused,
          lookup: unused,
          holds: unused,
          sync: unused,
          onStored: (listener) => {
            listeners.push(listener)
            return () => listeners.splice(listeners.indexOf(listener), 1)
          },
          onRejected: unused,
          stats: unused,
        }
        const directory = yield* Effect.scoped(
          Effect.gen(function* () {
            const made = yield* makeRegistryDirectory().pipe(
              Effect.provideService(Registry, registry),
              Effect.provideService(Catalog, catalog),
            )
            expect(listeners).toHaveLength(1)
            listeners[0]?.({ namespace: "shop", service: "orders" } as ServiceRecord.ServiceRecord)
            expect(made.changes?.generation("shop", "orders")).toBe(1)
            expect(made.changes?.recheckMs).toBe(5_000)
            return made
          }),
        )
        // The directory's scope closed: it no longer listens.
        expect(listeners).toHaveLength(0)
        expect(directory.changes?.generation("shop", "web")).toBe(0)
      }),
    ),
  )
})
