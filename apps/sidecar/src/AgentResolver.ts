/**
 * The proxy's Resolver backed by the agent: the upstream listeners find providers through
 * `GET /v1/services/{namespace}/{service}`, kept current by a watch on the agent (or, from an agent
 * without watches, with a short cache) so that connections do not wait for the agent.
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
   * How long an answer without a watch is reused (default 500 ms): from an agent that does not
   * watch, or while a watch is down. Concurrent connections to one service share one lookup;
   * empty answers and failures are not kept.
   */
  readonly cacheMs?: number
  /** A watched service nobody resolved for this long is no longer watched (default 30 s). */
  readonly watchIdleMs?: number
}

type Converted = ReturnType<typeof toProviders>

/** A service's providers kept current by a watch on the agent (Resolution's `?wait=`). */
interface Watched {
  converted: Converted
  lastUsed: number
}

const reportDropped = (service: string, { dropped }: Converted) =>
  dropped.length > 0
    ? Effect.logWarning(`ignored unusable providers of ${service}: ${dropped.join("; ")}`)
    : Effect.void

/**
 * The proxy's resolver over the agent. A service's first lookup asks the agent; when the answer
 * carries a version, a watch keeps it current from then on (the agent answers the watch when a
 * provider registers or goes), and connections take the providers without asking. A watch that
 * fails is dropped: lookups go to the agent again, kept `cacheMs`, and the next starts a new watch.
 */
export const makeAgentResolver = Effect.fn("AgentResolver.make")(function* (
  client: Pick<AgentClientShape, "resolve" | "watch">,
  options: AgentResolverOptions = {},
) {
  const cacheMs = options.cacheMs ?? 500
  const watchIdleMs = options.watchIdleMs ?? 30_000
  const watched = new Map<string, Watched>()
  const scope = yield* Effect.scope

  const watch = (service: string, first: Watched, from: string) =>
    Effect.gen(function* () {
      let version = from
      for (;;) {
        // Date.now, as the connections' path stamps `lastUsed` with it.
        if (Date.now() - first.lastUsed > watchIdleMs) return
        const answer = yield* client.watch(service, version)
        if (answer.version === undefined) return
        if (answer.version !== version) {
          first.converted = toProviders(answer.providers)
          yield* reportDropped(service, first.converted)
          version = answer.version
        }
      }
    }).pipe(
      Effect.catch((error) =>
        Effect.logDebug(`watch on ${service} ended: ${error.message}; asking the agent again`),
      ),
      Effect.ensuring(Effect.sync(() => watched.delete(service))),
      Effect.forkIn(scope),
    )

  // Converted once per lookup, not per connection: parsing peer ids and multiaddrs, and the
  // peer ids' string forms the proxy derives from them, were paid by every new connection.
  const cache = yield* Cache.makeWith(
    (service: string) =>
      client.resolve(service).pipe(
        Effect.mapError((cause) => new ResolveFailed({ service, cause })),
        Effect.flatMap((answer) =>
          Effect.gen(function* () {
            const converted = toProviders(answer.providers)
            yield* reportDropped(service, converted)
            if (answer.version !== undefined && !watched.has(service)) {
              const entry = { converted, lastUsed: Date.now() }
              watched.set(service, entry)
              yield* watch(service, entry, answer.version)
            }
            return converted
          }),
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
      Effect.suspend(() => {
        const entry = watched.get(service)
        if (entry === undefined)
          return Effect.map(Cache.get(cache, service), (converted) => converted.providers)
        entry.lastUsed = Date.now()
        return Effect.succeed(entry.converted.providers)
      }),
    /** Services watched now (for tests and diagnostics). */
    watching: () => [...watched.keys()],
  }
})

export const AgentResolverLayer: Layer.Layer<Resolver, never, AgentClient> = Layer.effect(
  Resolver,
  Effect.gen(function* () {
    return yield* makeAgentResolver(yield* AgentClient)
  }),
)
