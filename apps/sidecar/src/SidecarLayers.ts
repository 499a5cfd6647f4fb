/**
 * The sidecar's parts as Layers over its configuration. main.ts stacks them so that they start in
 * the order node → proxy → upstream listeners → drain → registration → health, and stop in the
 * reverse order: health off, unregister, drain open streams, close listeners, stop the node.
 */

import { type Registration, UpstreamList, UpstreamNames } from "@beemesh/contract"
import { openCertificate } from "@beemesh/p2p"
import {
  Inbound,
  Libp2pNode,
  type ListenFailed,
  Outbound,
  type ProtocolRegistrationFailed,
  ProxyMetrics,
  proxyConnectionManagerOptions,
  proxyYamuxOptions,
} from "@beemesh/proxy"
import { Duration, Effect, Exit, Fiber, Layer, Result, Scope } from "effect"
import { AgentClient } from "./AgentClient"
import { AgentResolverLayer } from "./AgentResolver"
import { DoorPolicies, type PolicyHolder } from "./DoorPolicies"
import { makeGatedRegistrar } from "./GatedRegistrar"
import { type HealthListenFailed, serveHealth } from "./HealthServer"
import { runHeapCompaction } from "./HeapCompaction"
import { runHeapGrowth } from "./HeapGrowthRunner"
import { startPodProbes } from "./PodProbes"
import { DENIAL_REASONS, makePolicyDoor } from "./PolicyDoor"
import { Registrar } from "./Registrar"
import { SidecarConfig, type SidecarSettings } from "./SidecarConfig"
import { countByTransport, renderMetrics } from "./SidecarMetrics"
import { MemberChain, SidecarNode } from "./SidecarNode"
import { trafficReport } from "./TrafficReport"

/** Time budgets of a shutdown that must end within 2 s in total. */
export const shutdownBudget = {
  unregisterMs: 600,
  drainMs: 600,
  listenerCloseMs: 200,
  /** Stopping the libp2p node is bounded separately (500 ms, in SidecarNode). */
} as const

/** What the proxy needs of its node (yamux stream limits, the connection manager's). */
export const proxyNodeOptions = {
  yamux: proxyYamuxOptions,
  connectionManager: proxyConnectionManagerOptions,
} as const

export const NodeLayer = SidecarNode.layer(proxyNodeOptions)

/** Hands the sidecar's node to the proxy. */
export const ProxyNodeLayer: Layer.Layer<Libp2pNode, never, SidecarNode> = Layer.effect(
  Libp2pNode,
  Effect.gen(function* () {
    return (yield* SidecarNode).node
  }),
)

/** Inbound streams are exposed to the app's ports on 127.0.0.1, by service name. */
export const InboundLayer: Layer.Layer<
  Inbound,
  ProtocolRegistrationFailed,
  SidecarConfig | Libp2pNode | ProxyMetrics | SidecarNode | DoorPolicies
> = Layer.unwrap(
  Effect.gen(function* () {
    const config = yield* SidecarConfig
    const node = yield* SidecarNode
    const policies = yield* DoorPolicies
    // With certified membership every stream passes the door (PolicyDoor.ts); without it (no
    // mesh authority) peers have no certified workload to decide on.
    const door = node.membershipRequired
      ? makePolicyDoor({
          member: (peer) => node.member(peer),
          awaitMember: (peer) => Effect.runPromise(node.awaitMember(peer)),
          self: () => policies.self(),
          services: Object.fromEntries(config.services.map((s) => [s.name, s.port])),
          policies: () => policies.policies(),
        })
      : undefined
    return Inbound.layer({
      services: Object.fromEntries(
        config.services.map((s) => [s.name, { host: "127.0.0.1", port: s.port }]),
      ),
      ...(door === undefined ? {} : { door }),
    })
  }),
)

/** Binding ::1 failed because the network namespace has no IPv6 loopback address. */
export const noIpv6Loopback = (error: ListenFailed): boolean => {
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return code === "EADDRNOTAVAIL" || code === "EAFNOSUPPORT"
}

/**
 * Upstream listeners on 127.0.0.1:<port>, [::1]:<port> and the upstream's own loopback address
 * (UpstreamNames, where its names resolve) per configured upstream service. The listeners live
 * in their own scope whose closing is awaited for at most `listenerCloseMs`: @beemesh/proxy's
 * Outbound closes a listener with `server.close()`, which waits until every accepted connection
 * has ended, so a long request still open after the drain would otherwise hold up the shutdown
 * (the node's stop then cuts it).
 */
export const UpstreamsLayer: Layer.Layer<never, ListenFailed, SidecarConfig | Outbound> =
  Layer.effectDiscard(
    Effect.gen(function* () {
      const config = yield* SidecarConfig
      const outbound = yield* Outbound
      const listeners = yield* Scope.make()
      yield* Effect.addFinalizer(() =>
        Effect.forkDetach(Scope.close(listeners, Exit.void)).pipe(
          Effect.flatMap((closing) =>
            Fiber.await(closing).pipe(
              Effect.timeoutOption(Duration.millis(shutdownBudget.listenerCloseMs)),
            ),
          ),
        ),
      )
      const addresses = UpstreamNames.upstreamAddresses(config.upstreams)
      for (const [index, u] of config.upstreams.entries()) {
        // A port of a multi-port Service is resolved by its own registration name.
        const service = UpstreamList.registered(u)
        yield* outbound
          .listen({ service, host: "127.0.0.1", port: u.port })
          .pipe(Scope.provide(listeners))
        // The address the pod's /etc/hosts gives the upstream's names (`http://orders:<port>/`),
        // shared by the ports of one service.
        yield* outbound
          .listen({
            service,
            host: addresses[index] ?? UpstreamNames.addressOf(index),
            port: u.port,
          })
          .pipe(Scope.provide(listeners))
        // Also [::1]:<port>, for apps that resolve "localhost" to ::1 first. A pod whose network
        // has no IPv6 has no ::1: that is not an error, only the IPv4 listener serves then.
        yield* outbound.listen({ service, host: "::1", port: u.port }).pipe(
          Scope.provide(listeners),
          Effect.catchIf(noIpv6Loopback, () =>
            Effect.logInfo(
              `upstream ${UpstreamList.describe(u)}: no IPv6 loopback in this network, listening on 127.0.0.1:${u.port} only`,
            ),
          ),
        )
      }
    }),
  )

/**
 * At shutdown (after unregistering, before the listeners close) waits a moment for open streams
 * to finish, so that requests in flight are not cut.
 */
export const DrainLayer: Layer.Layer<never, never, Inbound | Outbound> = Layer.effectDiscard(
  Effect.gen(function* () {
    const inbound = yield* Inbound
    const outbound = yield* Outbound
    const open = () => inbound.activeStreams() + outbound.activeConnections()
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const deadline = Date.now() + shutdownBudget.drainMs
        while (open() > 0 && Date.now() < deadline) yield* Effect.sleep(Duration.millis(20))
        if (open() > 0) yield* Effect.logWarning(`drain: closing ${open()} open streams`)
      }),
    )
  }),
)

/**
 * What a lease hands over besides the registration: each renews the membership chain (the node
 * presents a new one to its peers) and this pod's own workload, read from its certificate (the
 * door's target side), the revocations and the namespace's NetworkPolicies. The promise settles
 * once the certificate is opened and the revocations checked.
 */
export const acceptLease = (
  chain: MemberChain["Service"],
  policies: PolicyHolder,
  lease: Registration.Lease,
): Promise<unknown> => {
  const pending: Array<Promise<unknown>> = []
  // Most renewals hand over the chain the sidecar holds (the agent reuses a certificate until
  // half its lifetime is used): nothing to open or present again then.
  if (
    lease.certificates !== undefined &&
    lease.certificates.join("\n") !== chain.current().join("\n")
  ) {
    chain.set(lease.certificates)
    const own = lease.certificates[1]
    if (own !== undefined)
      pending.push(
        openCertificate(own).then((opened) => {
          if (Result.isSuccess(opened)) policies.setSelf(opened.success.workload)
        }),
      )
  }
  if (lease.revocations !== undefined) pending.push(chain.offerRevocations(lease.revocations))
  policies.offer(lease.networkPolicies)
  return Promise.all(pending)
}

/**
 * Registration, renewed with the proxy's traffic report each time; with readiness probes, held
 * only while every probe passes (withdrawn when one fails, back when it passes again), and with
 * startup probes not before they passed. Liveness probes run alongside (PodProbes).
 */
export const RegistrarLayer: Layer.Layer<
  Registrar,
  never,
  AgentClient | SidecarConfig | SidecarNode | ProxyMetrics | MemberChain | DoorPolicies
> = Layer.effect(
  Registrar,
  Effect.gen(function* () {
    const config = yield* SidecarConfig
    const policies = yield* DoorPolicies
    const node = yield* SidecarNode
    const chain = yield* MemberChain
    const client = yield* AgentClient
    const metrics = yield* ProxyMetrics
    const registration = {
      namespace: config.namespace,
      workload: config.workload,
      pod: config.pod,
      peerId: node.peerId,
      multiaddrs: node.advertise,
      services: config.services,
    }
    const options = {
      unregisterTimeoutMs: shutdownBudget.unregisterMs,
      traffic: () => trafficReport(metrics.traffic.snapshot()),
      onLease: (lease: Registration.Lease) => {
        void acceptLease(chain, policies, lease)
      },
    }
    const gate = yield* startPodProbes(
      {
        readiness: config.readinessProbes ?? [],
        liveness: config.livenessProbes ?? [],
        startup: config.startupProbes ?? [],
      },
      client,
    )
    if (gate === undefined) return yield* Registrar.make(client, registration, options)
    return yield* makeGatedRegistrar(client, registration, gate, options)
  }),
)

export const HealthLayer: Layer.Layer<
  never,
  HealthListenFailed,
  SidecarConfig | SidecarNode | Registrar | ProxyMetrics | DoorPolicies
> = Layer.effectDiscard(
  Effect.gen(function* () {
    const config = yield* SidecarConfig
    const policies = yield* DoorPolicies
    const node = yield* SidecarNode
    const registrar = yield* Registrar
    const metrics = yield* ProxyMetrics
    yield* serveHealth(
      {
        readiness: () => {
          const status = registrar.status()
          const reasons: Array<string> = []
          if (node.node.status !== "started") reasons.push(`libp2p node is ${node.node.status}`)
          if (!status.registered)
            reasons.push(
              `not registered with the agent${status.lastError === undefined ? "" : ` (${status.lastError})`}`,
            )
          return { ready: reasons.length === 0, reasons }
        },
        metrics: () =>
          renderMetrics({
            proxy: metrics.snapshot(),
            registration: registrar.status(),
            connections: node.node.getConnections().length,
            connectionsByTransport: countByTransport(
              node.node.getConnections().map((c) => c.remoteAddr.toString()),
            ),
            holePunch: node.holePunch(),
            networkPolicies: { version: policies.version(), count: policies.policies().length },
            ...(node.membershipRequired ? { denialReasons: DENIAL_REASONS } : {}),
          }),
      },
      config.healthHost,
      config.healthPort,
    )
  }),
)

interface Carried {
  readonly bytesIn: number
  readonly bytesOut: number
}

/** The bytes the proxy carried so far, both directions (read directly, no snapshot). */
const bytesCarried = (metrics: { readonly inbound: Carried; readonly outbound: Carried }) =>
  metrics.inbound.bytesIn +
  metrics.inbound.bytesOut +
  metrics.outbound.bytesIn +
  metrics.outbound.bytesOut

/** Memory-reducing collections while the proxy is quiet (HeapCompaction.ts). */
export const HeapCompactionLayer: Layer.Layer<never, never, ProxyMetrics> = Layer.effectDiscard(
  Effect.gen(function* () {
    const metrics = yield* ProxyMetrics
    // Moves with every byte or stream either way.
    const activity = () =>
      bytesCarried(metrics) + metrics.inbound.streamsOpened + metrics.outbound.streamsOpened
    yield* runHeapCompaction(activity)
  }),
)

/**
 * The heap's growing factor and V8's memory-saver mode by what the proxy carries (HeapGrowth.ts,
 * HeapGrowthRunner.ts).
 */
export const HeapGrowthLayer: Layer.Layer<never, never, ProxyMetrics> = Layer.effectDiscard(
  Effect.gen(function* () {
    const metrics = yield* ProxyMetrics
    yield* runHeapGrowth(() => ({
      bytes: bytesCarried(metrics),
      streamsOpen: metrics.inbound.streamsOpen + metrics.outbound.streamsOpen,
    }))
  }),
)

/** The configuration and the state the agent's leases fill (membership chain, policies). */
export const stateLayer = (settings: SidecarSettings) =>
  Layer.mergeAll(
    SidecarConfig.layer(settings),
    ProxyMetrics.layer,
    MemberChain.layer.pipe(Layer.provide(SidecarConfig.layer(settings))),
    DoorPolicies.layer,
  )

/** The proxy on the sidecar's node: inbound streams behind the door, upstreams' outbound ones. */
export const proxyLayer = (settings: SidecarSettings) =>
  // Streams negotiated ahead per provider: a new connection skips multistream-select's round
  // trip across both pods' slirp4netns (see the proxy README, "Ready streams").
  // With the host's socket directory, providers of this host are dialled on their sockets.
  Layer.mergeAll(
    InboundLayer,
    Outbound.layer({
      readyStreams: 4,
      ...(settings.sameHostDirectory === undefined
        ? {}
        : { sameHost: { directory: settings.sameHostDirectory } }),
    }),
  ).pipe(Layer.provideMerge(ProxyNodeLayer))

/** The whole sidecar for one configuration. */
export const sidecarLayer = (settings: SidecarSettings) => {
  const base = AgentClient.layer.pipe(Layer.provideMerge(stateLayer(settings)))
  const node = NodeLayer.pipe(Layer.provideMerge(base))
  const proxy = proxyLayer(settings).pipe(
    Layer.provideMerge(AgentResolverLayer),
    Layer.provideMerge(node),
  )
  return Layer.mergeAll(HealthLayer, HeapCompactionLayer, HeapGrowthLayer).pipe(
    Layer.provideMerge(RegistrarLayer),
    // Built after the listeners, so released before them: drain first, then close.
    Layer.provideMerge(DrainLayer),
    Layer.provideMerge(UpstreamsLayer),
    Layer.provideMerge(proxy),
  )
}
