import type { Resolution } from "@beemesh/contract"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Duration, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { type AgentClientShape, AgentUnreachable } from "./AgentClient"
import { makeAgentResolver, toProviders } from "./AgentResolver"

describe("toProviders", () => {
  it("converts the agent's providers and drops the ones that do not parse", async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()
    const { providers, dropped } = toProviders([
      { peerId: peer, multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], pod: "b-0", workload: "b" },
      { peerId: "not-a-peer-id", multiaddrs: [], pod: "b-1", workload: "b" },
      { peerId: peer, multiaddrs: ["garbage"], pod: "b-2", workload: "b" },
    ])
    expect(providers.map((p) => [p.peerId.toString(), p.multiaddrs.map(String)])).toEqual([
      [peer, ["/ip4/127.0.0.1/tcp/4001"]],
    ])
    expect(dropped).toHaveLength(2)
    expect(dropped[0]).toContain("b-1")
    expect(dropped[1]).toContain("b-2")
  })
})

describe("makeAgentResolver", () => {
  const provider = async () => ({
    peerId: peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString(),
    multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
    pod: "b-0",
    workload: "b",
  })

  const countingClient = (answers: Record<string, ReadonlyArray<Resolution.Provider>>) => {
    const calls: Array<string> = []
    const client: AgentClientShape = {
      register: () => Effect.die("unused"),
      unregister: () => Effect.die("unused"),
      execProbe: () => Effect.die("unused"),
      probeFailed: () => Effect.die("unused"),
      resolve: (service) =>
        Effect.sync(() => calls.push(service)).pipe(
          Effect.andThen(Effect.sleep(Duration.millis(20))),
          Effect.as(answers[service] ?? []),
        ),
    }
    return { client, calls }
  }

  it("shares one lookup among concurrent connections and reuses it briefly", async () => {
    const { client, calls } = countingClient({ web: [await provider()] })
    const counts = await Effect.runPromise(
      Effect.gen(function* () {
        const resolver = yield* makeAgentResolver(client, { cacheMs: 200 })
        const first = yield* Effect.all(
          Array.from({ length: 20 }, () => resolver.resolve("web")),
          {
            concurrency: "unbounded",
          },
        )
        expect(first.every((p) => p.length === 1)).toBe(true)
        const afterBurst = calls.length
        yield* resolver.resolve("web")
        const whileCached = calls.length
        yield* Effect.sleep(Duration.millis(300))
        yield* resolver.resolve("web")
        return [afterBurst, whileCached, calls.length]
      }),
    )
    expect(counts).toEqual([1, 1, 2])
  })

  it("converts an answer once: connections while it is cached get the same providers", async () => {
    const { client } = countingClient({ web: [await provider()] })
    const [first, second] = await Effect.runPromise(
      Effect.gen(function* () {
        const resolver = yield* makeAgentResolver(client)
        return [yield* resolver.resolve("web"), yield* resolver.resolve("web")] as const
      }),
    )
    // The same objects: no peer id or multiaddr parsed again, a peer id's string form kept.
    expect(second[0]).toBe(first[0])
  })

  it("does not keep an empty answer", async () => {
    const { client, calls } = countingClient({})
    await Effect.runPromise(
      Effect.gen(function* () {
        const resolver = yield* makeAgentResolver(client)
        expect(yield* resolver.resolve("web")).toEqual([])
        expect(yield* resolver.resolve("web")).toEqual([])
      }),
    )
    expect(calls).toEqual(["web", "web"])
  })

  it("reports the agent's failure as ResolveFailed", async () => {
    const client: AgentClientShape = {
      register: () => Effect.die("unused"),
      unregister: () => Effect.die("unused"),
      execProbe: () => Effect.die("unused"),
      probeFailed: () => Effect.die("unused"),
      resolve: () =>
        Effect.fail(new AgentUnreachable({ method: "GET", url: "http://x", reason: "down" })),
    }
    const error = await Effect.runPromise(
      Effect.flip(Effect.flatMap(makeAgentResolver(client), (r) => r.resolve("web"))),
    )
    expect(error._tag).toBe("ResolveFailed")
    expect(error.message).toContain("down")
  })
})
