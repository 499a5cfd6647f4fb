/**
 * One process of the catalog-mesh bench, hosting one or more nodes: each a certified agent's
 * registry node exactly as the agent builds it (mesh key, membership, provenance, relay server,
 * gossipsub catalog, registry with `serveStale`), with its own libp2p host, TCP listener and
 * connections, driven by the coordinator over the IPC channel (see protocol.ts).
 */
import { monitorEventLoopDelay } from "node:perf_hooks"
import { parseMeshKey } from "@beemesh/p2p"
import { privateKeyFromProtobuf } from "@libp2p/crypto/keys"
import { Context, Effect, Exit, Layer, Result, Scope } from "effect"
import { Catalog } from "../../src/Catalog.js"
import { Libp2pNode } from "../../src/Libp2pNode.js"
import { Registry, type RegistryShape } from "../../src/Registry.js"
import {
  type FromNode,
  type NodeConfig,
  type NodeStatus,
  sharedClock,
  type ToNode,
} from "./protocol.js"

const NAMESPACE = "bench"
const NO_REVOCATIONS = { serials: new Set<string>(), subjects: new Set<string>() }

const send = (message: FromNode) => {
  process.send?.(message)
}
// The coordinator went (crashed, or stopped us): nothing is left to report to.
process.on("disconnect", () => process.exit(0))

const agentNode = (config: NodeConfig) => {
  const meshKey = parseMeshKey(config.meshKey)
  if (Result.isFailure(meshKey)) throw new Error(`mesh key: ${meshKey.failure}`)
  const revoked = () => NO_REVOCATIONS
  return Libp2pNode.layer({
    meshKey: meshKey.success,
    membership: {
      authority: config.authority,
      chain: () => [config.certificate],
      revoked,
      ...(config.membershipTimeoutMs === undefined
        ? {}
        : { timeoutMs: config.membershipTimeoutMs }),
    },
    provenance: {
      authority: config.authority,
      certificate: () => config.certificate,
      revoked,
    },
    listen: [...config.listen],
    bootstrap: [...config.bootstrap],
    privateKey: privateKeyFromProtobuf(Buffer.from(config.privateKey, "base64")),
    catalog: true,
    relayServer: {},
  })
}

const start = (config: NodeConfig) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const node = agentNode(config)
    const context = yield* Layer.buildWithScope(
      Registry.layer({ serveStale: true }).pipe(
        Layer.provideMerge(Catalog.layer()),
        Layer.provideMerge(node),
      ),
      scope,
    )
    const libp2p = Context.get(context, Libp2pNode)
    const catalog = Context.get(context, Catalog)
    const startedAt = sharedClock()
    const opened = { count: 0 }
    libp2p.node.addEventListener("connection:open", () => {
      opened.count++
    })
    catalog.onStored((record) =>
      send({ type: "stored", node: config.index, service: record.service, at: sharedClock() }),
    )
    return {
      scope,
      libp2p,
      catalog,
      registry: Context.get(context, Registry),
      startedAt,
      opened,
      /** A Registry without the catalog on this node, made at the first resolve. */
      dht: undefined as RegistryShape | undefined,
    }
  })

type Running = Effect.Success<ReturnType<typeof start>>

/** A Registry without the catalog on the same libp2p node: the DHT path, as the fallback runs it. */
const dhtRegistry = (running: Running) =>
  Layer.buildWithScope(
    Registry.layer({}).pipe(Layer.provide(Layer.succeed(Libp2pNode, running.libp2p))),
    running.scope,
  ).pipe(Effect.map((context) => Context.get(context, Registry)))

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const a = yield* effect
    return [performance.now() - t0, a] as const
  })

/** The router's mesh of the topic (on gossipsub's class, not on its exported interface). */
const meshPeers = (pubsub: object, topic: string) =>
  (pubsub as { readonly mesh?: Map<string, Set<string>> }).mesh?.get(topic)?.size ?? 0

/**
 * The event loop's delay, measured only while the coordinator asks (the rounds): the monitor is a
 * timer that wakes the process every `resolution` ms whether anything else runs or not. At 10 ms
 * it cost an idle process about 6 ms of CPU a second on the 2-core machine (a Node wake-up costs
 * 40–60 µs there), which counted in the idle window and, with 100 processes, took more than half
 * a core of the two the mesh was measured on. At 50 ms it costs a fifth of that and still shows the
 * delays of a starved process (tens of milliseconds to seconds).
 */
const LOOP_RESOLUTION_MS = 50
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
let loopMonitorOn = false
/** The histogram holds the times between the timer's runs: the delay is what exceeds the period. */
const pastPeriodMs = (nanoseconds: number) =>
  loopMonitorOn ? Math.max(0, nanoseconds / 1e6 - LOOP_RESOLUTION_MS) : Number.NaN

/** The nodes this process hosts, by index. */
const running = new Map<number, Running>()
const nodeOf = (index: number) => {
  const r = running.get(index)
  if (r === undefined) throw new Error(`node ${index} is not in this process`)
  return r
}

const nodeStatus = (index: number, r: Running): NodeStatus => {
  const pubsub = r.libp2p.pubsub!
  return {
    index,
    routingTable: r.libp2p.routingTableSize(),
    connections: r.libp2p.node.getConnections().length,
    connectionsOpened: r.opened.count,
    topicPeers: pubsub.getSubscribers(r.catalog.topic).length,
    meshPeers: meshPeers(pubsub, r.catalog.topic),
    entries: r.catalog.stats().entries,
  }
}

const handle = (message: ToNode): Effect.Effect<void, unknown> => {
  switch (message.type) {
    case "config":
      return start(message.config).pipe(
        Effect.flatMap((r) =>
          Effect.sync(() => {
            running.set(message.config.index, r)
            send({
              type: "ready",
              index: message.config.index,
              peerId: r.libp2p.peerId.toString(),
              addresses: r.libp2p.multiaddrs().map(String),
              startedAt: r.startedAt,
            })
          }),
        ),
      )
    case "register":
      return Effect.gen(function* () {
        const r = nodeOf(message.node)
        const calledAt = sharedClock()
        yield* r.registry
          .register(NAMESPACE, message.service, {
            workload: "bench",
            pod: `${message.service}-0`,
            ports: [{ port: 8080 }],
          })
          .pipe(Scope.provide(r.scope))
        send({ type: "registered", id: message.id, calledAt, returnedAt: sharedClock() })
      })
    case "resolve":
      return Effect.gen(function* () {
        const r = nodeOf(message.node)
        const [catalogMs, found] = yield* timed(r.registry.resolve(NAMESPACE, message.service))
        r.dht ??= yield* dhtRegistry(r)
        const [dhtMs, dhtFound] = yield* timed(r.dht.resolve(NAMESPACE, message.service))
        send({
          type: "resolved",
          id: message.id,
          catalogMs,
          catalogFound: found.length,
          dhtMs,
          dhtFound: dhtFound.length,
        })
      })
    case "status":
      return Effect.sync(() => {
        const memory = process.memoryUsage()
        const cpu = process.cpuUsage()
        send({
          type: "status",
          id: message.id,
          status: {
            rssBytes: memory.rss,
            heapUsedBytes: memory.heapUsed,
            cpuMicros: cpu.user + cpu.system,
            loopDelayP99Ms: pastPeriodMs(loopDelay.percentile(99)),
            loopDelayMaxMs: pastPeriodMs(loopDelay.max),
            nodes: [...running].map(([index, r]) => nodeStatus(index, r)),
          },
        })
        loopDelay.reset()
      })
    case "loop-monitor":
      return Effect.sync(() => {
        if (message.enable) loopDelay.enable()
        else loopDelay.disable()
        loopMonitorOn = message.enable
        loopDelay.reset()
      })
    case "stop":
      return Effect.forEach(running.values(), (r) => Scope.close(r.scope, Exit.void), {
        concurrency: "unbounded",
        discard: true,
      }).pipe(Effect.ensuring(Effect.sync(() => process.exit(0))))
  }
}

const idOf = (message: ToNode) => ("id" in message ? message.id : undefined)

process.on("message", (message: ToNode) => {
  Effect.runPromise(handle(message)).catch((error: unknown) =>
    send({
      type: "failed",
      id: idOf(message),
      ...(message.type === "config" ? { node: message.config.index } : {}),
      message: error instanceof Error ? error.message : String(error),
    }),
  )
})
