import { Catalog, Libp2pNode } from "@beemesh/registry"
import { Context, Effect, Layer, Option } from "effect"
import { describe, expect, it } from "vitest"
import { ServiceDirectory } from "../../src/Directory"
import { registryDirectoryStack } from "../../src/RegistryDirectory"

/**
 * Two agents' registries on loopback, composed as the agent composes them: one registers through
 * the directory, the other resolves. With `catalog`, both also run the replicated catalog (the
 * agent's default), else the DHT alone (`--no-catalog`).
 */
const twoAgents = (catalog: boolean) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const stack = (node: Layer.Layer<Libp2pNode, unknown>, leaseSeconds?: number) =>
      registryDirectoryStack({
        catalog,
        directory: leaseSeconds === undefined ? {} : { leaseSeconds },
        registry: { cacheTtlMs: 0, queryTimeoutMs: 10_000 },
      }).pipe(Layer.provideMerge(node))
    const nodeA = Libp2pNode.layer({ listen: ["/ip4/127.0.0.1/tcp/0"], catalog })
    const contextA = yield* Layer.buildWithScope(stack(nodeA, 2), scope)
    const addressA = Context.get(contextA, Libp2pNode).multiaddrs()[0]!.toString()
    const nodeB = Libp2pNode.layer({
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: [addressA],
      catalog,
    })
    const contextB = yield* Layer.buildWithScope(stack(nodeB), scope)
    // Off, nothing holds a catalog: every resolve is the DHT's.
    for (const context of [contextA, contextB])
      expect(Option.isSome(Context.getOption(context, Catalog))).toBe(catalog)
    return {
      a: Context.get(contextA, ServiceDirectory),
      b: Context.get(contextB, ServiceDirectory),
    }
  })

const identity = { namespace: "shop", workload: "orders", pod: "orders-0" }
const registration = {
  identity,
  peerId: "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
  multiaddrs: ["/ip4/127.0.0.1/tcp/40123"],
  services: [{ name: "orders", port: 80 }],
}

const eventually = <A, E>(what: string, effect: Effect.Effect<A, E>, done: (a: A) => boolean) => {
  const deadline = Date.now() + 20_000
  const attempt: Effect.Effect<A, E | Error> = Effect.flatMap(effect, (a) =>
    done(a)
      ? Effect.succeed(a)
      : Date.now() > deadline
        ? Effect.fail(new Error(`timed out waiting for ${what}; last: ${JSON.stringify(a)}`))
        : Effect.sleep(200).pipe(Effect.andThen(() => attempt)),
  )
  return attempt
}

describe.each([
  ["the DHT registry", false],
  ["the replicated catalog", true],
])("ServiceDirectory over %s (two real libp2p nodes)", (_, catalog) => {
  it("publishes a registration that the other agent resolves, and withdraws it", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { a, b } = yield* twoAgents(catalog)
          const lease = yield* a.register(registration)
          expect(lease).toEqual({ ttlSeconds: 2, renewAfterSeconds: 1 })
          const providers = yield* eventually(
            "resolve on B",
            b.resolve("shop", "orders"),
            (p) => p.length === 1,
          )
          expect(providers).toEqual([
            {
              peerId: registration.peerId,
              multiaddrs: [`/ip4/127.0.0.1/tcp/40123/p2p/${registration.peerId}`],
              pod: "orders-0",
              workload: "orders",
            },
          ])
          yield* a.unregister(identity)
          yield* eventually(
            "withdrawal seen on B",
            b.resolve("shop", "orders"),
            (p) => p.length === 0,
          )
        }),
      ),
    )
  })

  it("withdraws a pod whose lease runs out without renewal", async () => {
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { a, b } = yield* twoAgents(catalog)
          yield* a.register(registration)
          yield* eventually("resolve on B", b.resolve("shop", "orders"), (p) => p.length === 1)
          // Renewals keep it; none for longer than the 2 s lease withdraws it.
          yield* eventually(
            "lease expiry seen on B",
            b.resolve("shop", "orders"),
            (p) => p.length === 0,
          )
        }),
      ),
    )
  })
})
