import { PublishRejected, Registry } from "@beemesh/registry"
import { it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { describe, expect } from "vitest"
import {
  makeRegistryDirectory,
  peerIdOf,
  REGISTER_CONCURRENCY,
  withPeerId,
} from "./RegistryDirectory"

const sidecar = "12D3KooWSidecar"
const relay = "12D3KooWRelay"

describe("registered addresses", () => {
  it("end in the sidecar's peer id, a relayed one after its relay's", () => {
    expect(withPeerId("/ip4/10.77.0.12/tcp/40123", sidecar)).toBe(
      `/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`,
    )
    expect(withPeerId(`/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`, "other")).toBe(
      `/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`,
    )
    const circuit = `/ip4/10.77.0.11/tcp/4001/p2p/${relay}/p2p-circuit`
    expect(withPeerId(circuit, sidecar)).toBe(`${circuit}/p2p/${sidecar}`)
    expect(peerIdOf(`${circuit}/p2p/${sidecar}`)).toBe(sidecar)
    expect(peerIdOf(circuit)).toBeUndefined()
  })
})

/**
 * A registry whose registrations wait for `gate` and stay held until their scope closes; the
 * service named `failing` is refused.
 */
const gatedRegistry = (gate: Deferred.Deferred<void>, failing?: string) => {
  const state = { inFlight: 0, mostInFlight: 0, held: new Set<string>() }
  const registry = Registry.of({
    register: (namespace, service) =>
      Effect.gen(function* () {
        state.inFlight++
        state.mostInFlight = Math.max(state.mostInFlight, state.inFlight)
        yield* Deferred.await(gate).pipe(Effect.ensuring(Effect.sync(() => state.inFlight--)))
        if (service === failing)
          return yield* new PublishRejected({ key: service, rejections: 1, firstError: "no" })
        yield* Effect.acquireRelease(
          Effect.sync(() => state.held.add(service)),
          () => Effect.sync(() => state.held.delete(service)),
        )
        return { namespace, service, pod: "orders-0", current: () => undefined }
      }),
    resolve: () => Effect.succeed([]),
    putManifest: () => Effect.die("not used"),
    getManifest: () => Effect.die("not used"),
  })
  return { state, registry }
}

const manyPorts = {
  identity: { namespace: "shop", workload: "orders", pod: "orders-0" },
  peerId: sidecar,
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: Array.from({ length: 6 }, (_, i) => ({ name: `orders--p${i}`, port: 8000 + i })),
}

const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })

describe("registering a pod's services", () => {
  it.effect(
    `publishes its ports at once, ${REGISTER_CONCURRENCY} at a time, and holds them all until unregistered`,
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const gate = yield* Deferred.make<void>()
          const { state, registry } = gatedRegistry(gate)
          const directory = yield* makeRegistryDirectory().pipe(
            Effect.provideService(Registry, registry),
          )
          const registering = yield* directory.register(manyPorts).pipe(Effect.forkChild)
          yield* settle
          expect(state.inFlight).toBe(REGISTER_CONCURRENCY)
          yield* Deferred.succeed(gate, undefined)
          expect(yield* Fiber.join(registering)).toEqual({ ttlSeconds: 30, renewAfterSeconds: 10 })
          expect(state.mostInFlight).toBe(REGISTER_CONCURRENCY)
          expect([...state.held].sort()).toEqual(manyPorts.services.map((s) => s.name))
          yield* directory.unregister(manyPorts.identity)
          expect(state.held.size).toBe(0)
        }),
      ),
  )

  it.effect("one port refused: the others are withdrawn and the registration fails", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        yield* Deferred.succeed(gate, undefined)
        const { state, registry } = gatedRegistry(gate, "orders--p4")
        const directory = yield* makeRegistryDirectory().pipe(
          Effect.provideService(Registry, registry),
        )
        const failure = yield* directory.register(manyPorts).pipe(Effect.flip)
        expect(failure).toMatchObject({ _tag: "DirectoryUnavailable" })
        expect(failure.message).toContain("orders--p4")
        expect(state.held.size).toBe(0)
      }),
    ),
  )
})
