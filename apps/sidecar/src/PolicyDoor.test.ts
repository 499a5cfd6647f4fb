/**
 * The door on real libp2p nodes (TCP + Noise + Yamux on 127.0.0.1, the mesh key, membership
 * certificates verified by the nodes' membership protocol) with the proxy's Inbound and Outbound.
 */
import * as net from "node:net"
import type { NetworkPolicy } from "@beemesh/contract"
import {
  type CertificateRequest,
  generateMeshKey,
  issueCertificate,
  makeP2pNode,
  type P2pNode,
  revokedSet,
  type WorkloadClaims,
} from "@beemesh/p2p"
import {
  Inbound,
  Libp2pNode,
  type MetricsRegistry,
  Outbound,
  ProxyMetrics,
  proxyYamuxOptions,
  Resolver,
} from "@beemesh/proxy"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Context, Effect, Layer, Logger, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import { DENIAL_REASONS, makePolicyDoor } from "./PolicyDoor.js"

const HOUR = 60 * 60 * 1000
const idOf = (key: PrivateKey) => peerIdFromPrivateKey(key as never).toString()
const newKey = () => Effect.promise(() => generateKeyPair("Ed25519"))
const issue = (issuer: PrivateKey, request: Omit<CertificateRequest, "serial">) =>
  issueCertificate(issuer, { serial: crypto.randomUUID(), ...request })

const workload = (namespace: string, app: string): WorkloadClaims => ({
  namespace,
  workload: app,
  pod: `${app}-0`,
  generation: "1",
  labels: { app },
})

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

interface World {
  readonly meshKey: ReturnType<typeof generateMeshKey>
  readonly authority: PrivateKey
  readonly agent: PrivateKey
  readonly agentChain: string
}

const world = Effect.gen(function* () {
  const authority = yield* newKey()
  const agent = yield* newKey()
  const agentChain = yield* issue(authority, {
    role: "agent",
    subject: idOf(agent),
    notBefore: Date.now() - 1_000,
    notAfter: Date.now() + HOUR,
  })
  return { meshKey: generateMeshKey(), authority, agent, agentChain } satisfies World
})

/** A node whose chain is `chain` (empty: no certificate). */
const nodeOf = (w: World, key: PrivateKey, chain: ReadonlyArray<string>) =>
  makeP2pNode({
    privateKey: key,
    meshKey: w.meshKey,
    dialTimeoutMs: 3_000,
    yamux: proxyYamuxOptions,
    membership: {
      authority: idOf(w.authority),
      chain: () => chain,
      revoked: () => revokedSet(undefined),
      // Generous: on a loaded machine a chain can take seconds to arrive.
      timeoutMs: 4_000,
      recheckMs: 200,
    },
  })

const sidecarNode = (w: World, claims: WorkloadClaims) =>
  Effect.gen(function* () {
    const key = yield* newKey()
    const cert = yield* issue(w.agent, {
      role: "sidecar",
      subject: idOf(key),
      notBefore: Date.now() - 1_000,
      notAfter: Date.now() + 30 * 60_000,
      workload: claims,
    })
    return yield* nodeOf(w, key, [w.agentChain, cert])
  })

/** The pod being called: app `api` of namespace `shop`, its echo app behind the door. */
const door = (w: World, policies: { current: ReadonlyArray<NetworkPolicy.Policy> }) =>
  Effect.gen(function* () {
    const app = net.createServer((socket) => {
      socket.on("error", () => {})
      socket.pipe(socket)
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        app.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () => Effect.sync(() => app.close()),
    )
    const appPort = (app.address() as net.AddressInfo).port
    const self = workload("shop", "api")
    const node = yield* sidecarNode(w, self)
    const ctx = yield* Layer.build(
      Inbound.layer({
        services: { api: { host: "127.0.0.1", port: appPort } },
        door: makePolicyDoor({
          member: (peer) => node.member(peer),
          awaitMember: (peer) => Effect.runPromise(node.awaitMember(peer)),
          self: () => self,
          services: { api: appPort },
          policies: () => policies.current,
        }),
      }).pipe(Layer.provideMerge(ProxyMetrics.layer), Layer.provide(Libp2pNode.layer(node.node))),
    )
    return { node, metrics: Context.get(ctx, ProxyMetrics), appPort }
  })

/** A caller's sidecar with an upstream `api` to the door's node; `call` sends a line, reads the echo. */
const caller = (node: P2pNode, target: P2pNode) =>
  Effect.gen(function* () {
    const logs: string[] = []
    const ctx = yield* Layer.build(
      Outbound.layer().pipe(
        Layer.provideMerge(ProxyMetrics.layer),
        Layer.provide(Libp2pNode.layer(node.node)),
        Layer.provide(
          Resolver.static({ api: [{ peerId: target.peerId, multiaddrs: target.multiaddrs() }] }),
        ),
        Layer.provide(
          Logger.layer([
            Logger.make(({ message }) => logs.push([message].flat().map(String).join(" "))),
          ]),
        ),
      ),
    )
    const listener = yield* Context.get(ctx, Outbound)
      .listen({ service: "api", port: 0 })
      .pipe(Effect.provideContext(ctx))
    const call = (line: string) =>
      Effect.promise(
        () =>
          new Promise<string | "reset">((resolve) => {
            const socket = net.connect(listener.port, "127.0.0.1", () => socket.end(line))
            let text = ""
            socket.on("data", (chunk) => {
              text += String(chunk)
            })
            socket.on("error", () => resolve("reset"))
            socket.on("end", () => resolve(text))
          }),
      )
    return { call, logs, metrics: Context.get(ctx, ProxyMetrics) as MetricsRegistry }
  })

describe("PolicyDoor on real libp2p nodes", () => {
  it("admits a member sidecar of the same namespace and denies one of another namespace until a policy admits it", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* world
        const policies = { current: [] as ReadonlyArray<NetworkPolicy.Policy> }
        const api = yield* door(w, policies)
        const web = yield* caller(yield* sidecarNode(w, workload("shop", "web")), api.node)
        const prom = yield* caller(yield* sidecarNode(w, workload("monitoring", "prom")), api.node)

        expect(yield* web.call("hello")).toBe("hello")
        expect(yield* prom.call("hello")).toBe("reset")
        expect(api.metrics.snapshot().denied.inbound).toEqual({ namespace: 1 })
        expect(prom.metrics.snapshot().denied.outbound).toEqual({ policy: 1 })
        expect(
          prom.logs.some((l) => l.includes("denied by policy") && l.includes("monitoring")),
        ).toBe(true)

        // A policy selecting api: from namespace monitoring only. Now web (same namespace) is refused.
        policies.current = [
          {
            namespace: "shop",
            name: "api-from-monitoring",
            podSelector: { matchLabels: { app: "api" } },
            ingress: [
              {
                from: [
                  {
                    namespaceSelector: {
                      matchLabels: { "kubernetes.io/metadata.name": "monitoring" },
                    },
                  },
                ],
                ports: [{ port: api.appPort }],
              },
            ],
          },
        ]
        expect(yield* prom.call("again")).toBe("again")
        expect(yield* web.call("again")).toBe("reset")
        expect(api.metrics.snapshot().denied.inbound).toEqual({ namespace: 1, policy: 1 })
      }),
    )
  }, 30_000)

  it("denies a member that is not a sidecar, and a peer without a certificate", async () => {
    await run(
      Effect.gen(function* () {
        const w = yield* world
        const api = yield* door(w, { current: [] })
        const agentNode = yield* nodeOf(w, w.agent, [w.agentChain])
        const asAgent = yield* caller(agentNode, api.node)
        expect(yield* asAgent.call("hello")).toBe("reset")
        expect(api.metrics.snapshot().denied.inbound).toEqual({ "not-a-sidecar": 1 })

        const stranger = yield* caller(yield* nodeOf(w, yield* newKey(), []), api.node)
        expect(yield* stranger.call("hello")).toBe("reset")
        // Its stream waited for a chain that never came (or its connection was dropped first).
        const denied = api.metrics.snapshot().denied.inbound
        expect(denied["not-a-member"] ?? 0).toBeLessThanOrEqual(1)
        expect(api.metrics.snapshot().inbound.streamsOpened).toBe(0)
        expect(DENIAL_REASONS).toContain("not-a-member")
      }),
    )
  }, 30_000)
})

describe("PolicyDoor decisions", () => {
  const member = (namespace: string, serial: string) => ({
    role: "sidecar" as const,
    peer: "peer-a",
    agent: "agent",
    expiresAt: Date.now() + HOUR,
    serials: [serial],
    workload: workload(namespace, "web"),
  })
  /** A policy list that counts evaluations (decide filters it once per evaluation). */
  const counted = () => {
    const counter = { evaluations: 0 }
    const list = new Proxy([] as Array<NetworkPolicy.Policy>, {
      get(target, property, receiver) {
        if (property === "filter") counter.evaluations++
        return Reflect.get(target, property, receiver)
      },
    })
    return { counter, list }
  }

  it("evaluates once per verified chain and target, again after the policies or the chain change", () => {
    let current = member("shop", "serial-1")
    let policies = counted()
    const self = workload("shop", "api")
    const door = makePolicyDoor({
      member: () => current,
      awaitMember: async () => undefined,
      self: () => self,
      services: { api: 8000 },
      policies: () => policies.list,
    })
    const api = { _tag: "Service", name: "api" } as const
    for (let i = 0; i < 100; i++) expect(door.check("peer-a", api)).toBeUndefined()
    expect(policies.counter.evaluations).toBe(1)
    door.check("peer-a", { _tag: "Port", port: 8000 })
    expect(policies.counter.evaluations).toBe(2)
    policies = counted()
    door.check("peer-a", api)
    expect(policies.counter.evaluations).toBe(1)
    // A renewed chain is a new Member: decided anew (its claims may differ).
    current = member("other", "serial-2")
    expect(door.check("peer-a", api)).toMatchObject({ reason: "namespace" })
    expect(policies.counter.evaluations).toBe(2)
  })

  it("waits for a chain still being verified, and denies a peer that never proves one", async () => {
    const later = member("shop", "serial-3")
    const door = makePolicyDoor({
      member: () => undefined,
      awaitMember: async (peer) => (peer === "late" ? later : undefined),
      self: () => workload("shop", "api"),
      services: { api: 8000 },
      policies: () => [],
    })
    const api = { _tag: "Service", name: "api" } as const
    expect(await door.check("late", api)).toBeUndefined()
    expect(await door.check("never", api)).toMatchObject({ reason: "not-a-member" })
  })

  it("denies everyone while this sidecar has no certificate of its own", () => {
    const door = makePolicyDoor({
      member: () => member("shop", "serial-4"),
      awaitMember: async () => undefined,
      self: () => undefined,
      services: {},
      policies: () => [],
    })
    expect(door.check("peer-a", { _tag: "Port", port: 80 })).toMatchObject({
      reason: "no-identity",
    })
  })
})
