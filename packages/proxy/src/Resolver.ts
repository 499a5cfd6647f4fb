import type { PeerId } from "@libp2p/interface"
import type { Multiaddr } from "@multiformats/multiaddr"
import { Context, Effect, Layer } from "effect"
import type { ResolveFailed } from "./Errors.js"

/** A peer that serves a service, and where to dial it if there is no connection yet. */
export interface Provider {
  readonly peerId: PeerId
  readonly multiaddrs: ReadonlyArray<Multiaddr>
  /**
   * What the provider is called in per-service traffic (the sidecar passes its workload); the
   * peer id when absent. Keep the set of labels small: each one is a series.
   */
  readonly label?: string
}

/**
 * Finds the providers of a service. The sidecar backs this with the DHT registry; tests and
 * single-host setups use {@link Resolver.static}. An empty list means "no provider" (the proxy
 * refuses the connection); fail with ResolveFailed only when the lookup itself broke.
 */
export class Resolver extends Context.Service<
  Resolver,
  {
    readonly resolve: (service: string) => Effect.Effect<ReadonlyArray<Provider>, ResolveFailed>
  }
>()("@beemesh/proxy/Resolver") {
  /** A fixed service → providers table. */
  static static(table: Readonly<Record<string, ReadonlyArray<Provider>>>): Layer.Layer<Resolver> {
    return Layer.succeed(Resolver, {
      resolve: (service) => Effect.succeed(Object.hasOwn(table, service) ? table[service]! : []),
    })
  }
}
