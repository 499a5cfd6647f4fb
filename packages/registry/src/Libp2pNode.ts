import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { type Identify, identify } from "@libp2p/identify"
import type { Libp2p, PeerId, PrivateKey } from "@libp2p/interface"
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  type Selectors,
  type SingleKadDHT,
  type Validators,
} from "@libp2p/kad-dht"
import { type Ping, ping } from "@libp2p/ping"
import { tcp } from "@libp2p/tcp"
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr"
import { Context, Effect, Layer } from "effect"
import { createLibp2p } from "libp2p"
import * as DhtRecords from "./DhtRecords"
import { type DhtOperationFailed, DialFailed, type KeyFileError, NodeStartFailed } from "./Errors"
import { loadOrCreateKey } from "./internal/keyFile"
import { drain } from "./internal/query"

/** Our Kademlia protocol id: a private DHT, never mixed with the public IPFS one. */
export const DHT_PROTOCOL = "/beemesh/kad/1.0.0"

/** The libp2p services every Beemesh node runs. */
export interface BeemeshServices {
  readonly dht: KadDHT
  readonly identify: Identify
  readonly ping: Ping
}
export type BeemeshLibp2p = Libp2p<{ dht: KadDHT; identify: Identify; ping: Ping }>

export interface Libp2pNodeOptions {
  /** Listen multiaddrs. Default `/ip4/127.0.0.1/tcp/0` (loopback, ephemeral port). */
  readonly listen?: ReadonlyArray<string>
  /** Addresses to announce instead of the listen addresses (e.g. a published port). */
  readonly announce?: ReadonlyArray<string>
  /**
   * Identity: a key file (created with mode 0600 when missing, refused when readable by others),
   * an explicit private key, or none for a fresh ephemeral Ed25519 identity.
   */
  readonly keyFile?: string
  readonly privateKey?: PrivateKey
  /** Multiaddrs (with `/p2p/<id>`) dialled once at start; unreachable ones are logged, not fatal. */
  readonly bootstrap?: ReadonlyArray<string>
  /**
   * While the node has no connection at all, bootstrap peers are re-dialled (and the node
   * re-joins) this often, so a host that starts before its peers still joins. Default 5 s.
   */
  readonly bootstrapRetryMs?: number
  /** Kademlia protocol id. Default {@link DHT_PROTOCOL}. */
  readonly dhtProtocol?: string
  /** Timeout of one dial (bootstrap and `dial`). Default 5 s. */
  readonly dialTimeoutMs?: number
  /** Connection manager limit. Default 300. */
  readonly maxConnections?: number
  /**
   * Inbound connections per second accepted from one IP. libp2p's default of 5 breaks meshes
   * where many nodes share an address (loopback, NAT, pods behind slirp4netns). Default 1000.
   */
  readonly inboundConnectionThreshold?: number
  /** Inbound connections still upgrading at once (default in libp2p: 10). Default 256. */
  readonly maxIncomingPendingConnections?: number
  /** Extra kad-dht validators/selectors, keyed by a key's first segment, beside the registry's. */
  readonly validators?: Validators
  readonly selectors?: Selectors
}

export interface Libp2pNodeShape {
  /** The running libp2p node: register protocol handlers on it (e.g. the proxy's). */
  readonly node: BeemeshLibp2p
  readonly peerId: PeerId
  /** The identity key, to sign records as this peer. */
  readonly privateKey: PrivateKey
  readonly dht: KadDHT
  readonly multiaddrs: () => ReadonlyArray<Multiaddr>
  /** Dials a peer by multiaddr, within the dial timeout. */
  readonly dial: (address: string | Multiaddr) => Effect.Effect<PeerId, DialFailed>
  /**
   * Kademlia join: a lookup of our own id, which connects us to (and fills our routing table
   * with) the peers closest to us. Runs once after bootstrap; call again after reconnecting.
   */
  readonly join: Effect.Effect<void, DhtOperationFailed>
  /** Number of peers in the DHT routing table (0 for a lone node). */
  readonly routingTableSize: () => number
}

const withTimeout = (ms: number, signal?: AbortSignal) =>
  signal === undefined
    ? AbortSignal.timeout(ms)
    : AbortSignal.any([signal, AbortSignal.timeout(ms)])

const resolveKey = (options: Libp2pNodeOptions): Effect.Effect<PrivateKey, KeyFileError> => {
  if (options.privateKey !== undefined) return Effect.succeed(options.privateKey)
  if (options.keyFile !== undefined) return loadOrCreateKey(options.keyFile)
  return Effect.promise(() => generateKeyPair("Ed25519"))
}

const start = (options: Libp2pNodeOptions, privateKey: PrivateKey) => {
  const listen = [...(options.listen ?? ["/ip4/127.0.0.1/tcp/0"])]
  return Effect.tryPromise({
    try: () =>
      createLibp2p({
        privateKey,
        addresses: {
          listen,
          ...(options.announce === undefined ? {} : { announce: [...options.announce] }),
        },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: {
          maxConnections: options.maxConnections ?? 300,
          inboundConnectionThreshold: options.inboundConnectionThreshold ?? 1000,
          maxIncomingPendingConnections: options.maxIncomingPendingConnections ?? 256,
          dialTimeout: options.dialTimeoutMs ?? 5_000,
        },
        services: {
          identify: identify(),
          ping: ping(),
          dht: kadDHT({
            protocol: options.dhtProtocol ?? DHT_PROTOCOL,
            // Our hosts sit on loopback and LANs: without server mode and a mapper that keeps
            // private addresses, nodes stay DHT clients and strip every address they could dial.
            clientMode: false,
            peerInfoMapper: passthroughMapper,
            // A lone node must answer (from its own store) instead of waiting for a first peer.
            allowQueryWithZeroPeers: true,
            validators: { ...DhtRecords.validators(), ...options.validators },
            selectors: { ...DhtRecords.selectors(), ...options.selectors },
          }),
        },
      }),
    catch: (cause) => new NodeStartFailed({ listen, cause }),
  })
}

const make = Effect.fn("Libp2pNode.make")(function* (options: Libp2pNodeOptions) {
  const privateKey = yield* resolveKey(options)
  const node = yield* Effect.acquireRelease(start(options, privateKey), (node) =>
    Effect.promise(async () => node.stop()),
  )
  const dialTimeoutMs = options.dialTimeoutMs ?? 5_000
  const dial = Effect.fn("Libp2pNode.dial")(function* (address: string | Multiaddr) {
    const target = yield* Effect.try({
      try: () => (typeof address === "string" ? multiaddr(address) : address),
      catch: (cause) => new DialFailed({ address: String(address), cause }),
    })
    const connection = yield* Effect.tryPromise({
      try: (signal) => node.dial(target, { signal: withTimeout(dialTimeoutMs, signal) }),
      catch: (cause) => new DialFailed({ address: target.toString(), cause }),
    })
    return connection.remotePeer
  })
  const dht = node.services.dht
  // kad-dht runs its own first self-query one second after start, then only every 5 minutes:
  // if that one ran before the bootstrap peers knew anybody, this node would stay unknown.
  const join = drain(
    "getClosestPeers",
    node.peerId.toString(),
    dialTimeoutMs * 2,
    (signal) => dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal }),
    0,
    (n) => n,
  ).pipe(Effect.asVoid, Effect.withSpan("Libp2pNode.join"))
  const bootstrap = Effect.gen(function* () {
    yield* Effect.forEach(
      options.bootstrap ?? [],
      (address) =>
        dial(address).pipe(
          Effect.catch((error) =>
            Effect.logWarning(`bootstrap peer unreachable: ${error.message}`),
          ),
        ),
      { concurrency: "unbounded", discard: true },
    )
    if (node.getConnections().length > 0) {
      yield* join.pipe(
        Effect.catch((error) => Effect.logWarning(`DHT join failed: ${error.message}`)),
      )
    }
  })
  yield* bootstrap
  if ((options.bootstrap ?? []).length > 0) {
    yield* Effect.suspend(() =>
      node.getConnections().length === 0 ? bootstrap : Effect.void,
    ).pipe(Effect.delay(options.bootstrapRetryMs ?? 5_000), Effect.forever, Effect.forkScoped)
  }
  return Libp2pNode.of({
    node,
    peerId: node.peerId,
    privateKey,
    dht,
    multiaddrs: () => node.getMultiaddrs(),
    dial,
    join,
    routingTableSize: () => (dht as Partial<SingleKadDHT>).routingTable?.size ?? 0,
  })
})

/**
 * A scoped libp2p host node: TCP + Noise + Yamux, identify, ping and a Kademlia DHT in server mode
 * on our own protocol id, with the registry's record validators. Stopped when its scope closes.
 */
export class Libp2pNode extends Context.Service<Libp2pNode, Libp2pNodeShape>()(
  "@beemesh/registry/Libp2pNode",
) {
  static readonly make = make
  static readonly layer = (options: Libp2pNodeOptions = {}) =>
    Layer.effect(Libp2pNode, make(options))
}
