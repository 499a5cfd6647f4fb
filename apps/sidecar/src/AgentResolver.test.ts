import type { Resolution } from "@beemesh/contract"
import type { ResolveFailed } from "@beemesh/proxy"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Duration, Effect, Queue } from "effect"
import { describe, expect, it } from "vitest"
import { type AgentClientShape, AgentUnreachable } from "./AgentClient"
import { type AgentResolverOptions, makeAgentResolver, toProviders } from "./AgentResolver"

/** The client's calls a resolver never makes. */
const unusedCalls = {
  register: () => Effect.die("unused"),
  unregister: () => Effect.die("unused"),
  execProbe: () => Effect.die("unused"),
  probeFailed: () => Effect.die("unused"),
} satisfies Partial<AgentClientShape>

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
      ...unusedCalls,
      resolve: (service) =>
        Effect.sync(() => calls.push(service)).pipe(
          Effect.andThen(Effect.sleep(Duration.millis(20))),
          Effect.as({ providers: answers[service] ?? [] }),
        ),
      watch: () => Effect.die("an agent without watches is never asked to watch"),
    }
    return { client, calls }
  }

  it("shares one lookup among concurrent connections and reuses it briefly", async () => {
    const { client, calls } = countingClient({ web: [await provider()] })
    const counts = await Effect.runPromise(
      Effect.scoped(
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
      ),
    )
    expect(counts).toEqual([1, 1, 2])
  })

  it("converts an answer once: connections while it is cached get the same providers", async () => {
    const { client } = countingClient({ web: [await provider()] })
    const [first, second] = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const resolver = yield* makeAgentResolver(client)
          return [yield* resolver.resolve("web"), yield* resolver.resolve("web")] as const
        }),
      ),
    )
    // The same objects: no peer id or multiaddr parsed again, a peer id's string form kept.
    expect(second[0]).toBe(first[0])
  })

  it("does not keep an empty answer", async () => {
    const { client, calls } = countingClient({})
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const resolver = yield* makeAgentResolver(client)
          expect(yield* resolver.resolve("web")).toEqual([])
          expect(yield* resolver.resolve("web")).toEqual([])
        }),
      ),
    )
    expect(calls).toEqual(["web", "web"])
  })

  it("reports the agent's failure as ResolveFailed", async () => {
    const client: AgentClientShape = {
      ...unusedCalls,
      resolve: () =>
        Effect.fail(new AgentUnreachable({ method: "GET", url: "http://x", reason: "down" })),
      watch: () => Effect.die("unused"),
    }
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.flip(Effect.flatMap(makeAgentResolver(client), (r) => r.resolve("web"))),
      ),
    )
    expect(error._tag).toBe("ResolveFailed")
    expect(error.message).toContain("down")
  })
})

describe("makeAgentResolver with a watching agent", () => {
  const provider = async (pod: string) => ({
    peerId: peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString(),
    multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
    pod,
    workload: "b",
  })

  /**
   * An agent whose resolve answers `initial` as version "v0", and whose watches are answered from
   * `changes` (an AgentUnreachable fails the watch), recording every request.
   */
  const watchingClient = Effect.fn(function* (initial: ReadonlyArray<Resolution.Provider>) {
    const changes = yield* Queue.unbounded<Resolution.ResolveResponse | "fail">()
    const requests: Array<string> = []
    const client: AgentClientShape = {
      ...unusedCalls,
      resolve: (service) =>
        Effect.sync(() => requests.push(`resolve ${service}`)).pipe(
          Effect.as({ providers: initial, version: "v0" }),
        ),
      watch: (service, version) =>
        Effect.sync(() => requests.push(`watch ${service} ${version}`)).pipe(
          Effect.andThen(Queue.take(changes)),
          Effect.onInterrupt(() =>
            Effect.sync(() => requests.push(`watch ${service} interrupted`)),
          ),
          Effect.flatMap((next) =>
            next === "fail"
              ? Effect.fail(
                  new AgentUnreachable({ method: "GET", url: "http://x", reason: "reset" }),
                )
              : Effect.succeed(next),
          ),
        ),
    }
    return { client, changes, requests }
  })

  const settle = Effect.sleep(Duration.millis(20))

  type Watching = Effect.Success<ReturnType<typeof watchingClient>>
  type Resolver = Effect.Success<ReturnType<typeof makeAgentResolver>>

  /** Runs `body` with a watching agent answering `initial` and a resolver over it, then closes. */
  const withResolver = (
    initial: ReadonlyArray<Resolution.Provider>,
    options: AgentResolverOptions,
    body: (agent: Watching, resolver: Resolver) => Effect.Effect<void, ResolveFailed>,
  ) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const agent = yield* watchingClient(initial)
          yield* body(agent, yield* makeAgentResolver(agent.client, options))
        }),
      ),
    )

  it("asks once, then takes the watched providers without asking, past the cache's time", async () => {
    const one = await provider("b-0")
    const two = await provider("b-1")
    await withResolver([one], { cacheMs: 10 }, (agent, resolver) =>
      Effect.gen(function* () {
        expect((yield* resolver.resolve("web")).map((p) => p.label)).toEqual(["b"])
        yield* Effect.sleep(Duration.millis(50))
        expect(yield* resolver.resolve("web")).toHaveLength(1)
        expect(agent.requests).toEqual(["resolve web", "watch web v0"])
        // A replica registers: the watch answers, and the next connection sees both at once.
        yield* Queue.offer(agent.changes, { providers: [one, two], version: "v1" })
        yield* settle
        expect((yield* resolver.resolve("web")).map((p) => p.peerId.toString())).toEqual([
          one.peerId,
          two.peerId,
        ])
        expect(agent.requests).toEqual(["resolve web", "watch web v0", "watch web v1"])
        // The same version again (the hold ran out): asked again with it, nothing changed.
        yield* Queue.offer(agent.changes, { providers: [one, two], version: "v1" })
        yield* settle
        expect(agent.requests.at(-1)).toBe("watch web v1")
        expect(yield* resolver.resolve("web")).toHaveLength(2)
        expect(resolver.watching()).toEqual(["web"])
      }),
    )
  })

  it("keeps and watches an empty answer: the first provider is seen when it registers", async () => {
    const one = await provider("b-0")
    await withResolver([], {}, (agent, resolver) =>
      Effect.gen(function* () {
        expect(yield* resolver.resolve("web")).toEqual([])
        yield* settle
        expect(yield* resolver.resolve("web")).toEqual([])
        yield* Queue.offer(agent.changes, { providers: [one], version: "v1" })
        yield* settle
        expect(yield* resolver.resolve("web")).toHaveLength(1)
        expect(agent.requests.filter((r) => r.startsWith("resolve"))).toHaveLength(1)
      }),
    )
  })

  it("a failed watch is dropped: the next connection asks the agent and watches again", async () => {
    const one = await provider("b-0")
    await withResolver([one], { cacheMs: 10 }, (agent, resolver) =>
      Effect.gen(function* () {
        yield* resolver.resolve("web")
        yield* settle
        yield* Queue.offer(agent.changes, "fail")
        yield* settle
        expect(resolver.watching()).toEqual([])
        // Within the cache's time the answer is reused; after it the agent is asked again.
        yield* Effect.sleep(Duration.millis(20))
        expect(yield* resolver.resolve("web")).toHaveLength(1)
        yield* settle
        expect(agent.requests).toEqual([
          "resolve web",
          "watch web v0",
          "resolve web",
          "watch web v0",
        ])
        expect(resolver.watching()).toEqual(["web"])
      }),
    )
  })

  it("an agent that answers a watch without a version ends the watch (it does not watch)", async () => {
    const one = await provider("b-0")
    await withResolver([one], {}, (agent, resolver) =>
      Effect.gen(function* () {
        yield* resolver.resolve("web")
        yield* settle
        yield* Queue.offer(agent.changes, { providers: [one] })
        yield* settle
        expect(resolver.watching()).toEqual([])
        expect(agent.requests).toEqual(["resolve web", "watch web v0"])
      }),
    )
  })

  it("stops watching a service nobody resolved for watchIdleMs", async () => {
    const one = await provider("b-0")
    await withResolver([one], { watchIdleMs: 30 }, (agent, resolver) =>
      Effect.gen(function* () {
        yield* resolver.resolve("web")
        yield* Effect.sleep(Duration.millis(60))
        // The hold ends with nothing changed: idle past 30 ms, the watch is not renewed.
        yield* Queue.offer(agent.changes, { providers: [one], version: "v0" })
        yield* settle
        expect(resolver.watching()).toEqual([])
        expect(agent.requests).toEqual(["resolve web", "watch web v0"])
      }),
    )
  })

  it("closing the resolver's scope ends its watches", async () => {
    const one = await provider("b-0")
    const requests = await Effect.runPromise(
      Effect.gen(function* () {
        const agent = yield* watchingClient([one])
        yield* Effect.scoped(
          Effect.gen(function* () {
            const resolver = yield* makeAgentResolver(agent.client)
            yield* resolver.resolve("web")
            yield* settle
          }),
        )
        return agent.requests
      }),
    )
    expect(requests).toEqual(["resolve web", "watch web v0", "watch web interrupted"])
  })
})
