/**
 * The proxy's Resolver backed by the agent: the upstream listeners find providers through
 * `GET /v1/services/{namespace}/{service}`.
 */
import { type Provider, ResolveFailed, Resolver } from "@beemesh/proxy"
import { peerIdFromString } from "@libp2p/peer-id"
import { multiaddr } from "@multiformats/multiaddr"
import { Effect, Layer, Result } from "effect"
import { AgentClient, type AgentProvider } from "./AgentClient"

/** Converts the agent's providers; entries that do not parse are dropped and reported. */
export const toProviders = (
  providers: ReadonlyArray<AgentProvider>,
): { readonly providers: ReadonlyArray<Provider>; readonly dropped: ReadonlyArray<string> } => {
  const out: Array<Provider> = []
  const dropped: Array<string> = []
  for (const p of providers) {
    const parsed = Result.try(() => ({
      peerId: peerIdFromString(p.peerId),
      multiaddrs: p.multiaddrs.map((m) => multiaddr(m)),
    }))
    if (Result.isSuccess(parsed)) out.push(parsed.success)
    else dropped.push(`${p.pod} (${p.peerId}): ${String(parsed.failure)}`)
  }
  return { providers: out, dropped }
}

export const AgentResolverLayer: Layer.Layer<Resolver, never, AgentClient> = Layer.effect(
  Resolver,
  Effect.gen(function* () {
    const client = yield* AgentClient
    return {
      resolve: Effect.fn("AgentResolver.resolve")(function* (service: string) {
        const answer = yield* client
          .resolve(service)
          .pipe(Effect.mapError((cause) => new ResolveFailed({ service, cause })))
        const { providers, dropped } = toProviders(answer)
        if (dropped.length > 0)
          yield* Effect.logWarning(
            `ignored unusable providers of ${service}: ${dropped.join("; ")}`,
          )
        return providers
      }),
    }
  }),
)
