/**
 * The proxy's Resolver backed by the agent: the upstream listeners find providers through
 * `GET /v1/services/{namespace}/{service}`, with a short cache so that a burst of connections
 * costs the agent one lookup.
 */
import type { Resolution } from "@beemesh/contract"
import { type Provider, ResolveFailed, Resolver } from "@beemesh/proxy"
import { peerIdFromString } from "@libp2p/peer-id"
import { multiaddr } from "@multiformats/multiaddr"
import { Cache, Duration, Effect, Exit, Layer, Result } from "effect"
import { AgentClient, type AgentClientShape } from "./AgentClient"

/**
 * Converts the agent's providers; entries that do not parse are dropped and reported. The agent
 * has already given them the addresses a pod dials (its host's loopback as the pod's gateway).
 */
export const toProviders = (
  providers: ReadonlyArray<Resolution.Provider>,
): { readonly providers: ReadonlyArray<Provider>; readonly dropped: ReadonlyArray<string> } => {
  const out: Array<Provider> = []
  const dropped: Array<string> = []
  for (const p of providers) {
    const parsed = Result.try(() => ({
      peerId: peerIdFromString(p.peerId),
      multiaddrs: p.multiaddrs.map((m) => multiaddr(m)),
      // Per-service traffic names the provider by its workload: few series, readable labels.
      label: p.workload,
    }))
    if (Result.isSuccess(parsed)) out.push(parsed.success)
    else dropped.push(`${p.pod} (${p.peerId}): ${String(parsed.failure)}`)
  }
  return { providers: out, dropped }
}

export interface AgentResolverOptions {
  /**
   * How long a non-empty answer is reused (default 500 ms). Concurrent connections to one
   * service share one lookup; empty answers and failures are not kept. Providers that register
   * meanwhile (a Deployment's replicas, one after another) are seen once it runs out.
   */
  readonly cacheMs?: number
}

export const makeAgentResolver = Effect.fn("AgentResolver.make")(function* (
  client: Pick<AgentClientShape, "resolve">,
  options: AgentResolverOptions = {},
) {
  const cacheMs = options.cacheMs ?? 500
  // Converted once per lookup, not per connection: parsing peer ids and multiaddrs, and the
  // peer ids' string forms the proxy derives from them, were paid by every new connection.
  const cache = yield* Cache.makeWith(
    (service: string) =>
      client.resolve(service).pipe(
        Effect.mapError((cause) => new ResolveFailed({ service, cause })),
        Effect.map(toProviders),
        Effect.tap(({ dropped }) =>
          dropped.length > 0
            ? Effect.logWarning(`ignored unusable providers of ${service}: ${dropped.join("; ")}`)
            : Effect.void,
        ),
      ),
    {
      capacity: 1024,
      timeToLive: (exit) =>
        Exit.isSuccess(exit) && exit.value.providers.length + exit.value.dropped.length > 0
          ? Duration.millis(cacheMs)
          : Duration.zero,
    },
  )
  return {
    resolve: (service: string) =>
      Effect.map(Cache.get(cache, service), (converted) => converted.providers),
  }
})

export const AgentResolverLayer: Layer.Layer<Resolver, never, AgentClient> = Layer.effect(
  Resolver,
  Effect.gen(function* () {
    return yield* makeAgentResolver(yield* AgentClient)
  }),
)
