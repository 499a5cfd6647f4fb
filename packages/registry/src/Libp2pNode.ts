import { makeP2pNode, type P2pIdentity, type P2pNode, type P2pNodeOptions } from "@beemesh/p2p"
import type { GossipSub } from "@libp2p/gossipsub"
import type { Identify } from "@libp2p/identify"
import type { Libp2p, PeerId, PrivateKey } from "@libp2p/interface"
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  type Selectors,
  type SingleKadDHT,
  type Validators,
} from "@libp2p/kad-dht"
import type { Ping } from "@libp2p/ping"
import type { Multiaddr } from "@multiformats/multiaddr"
import { Context, Duration, Effect, Layer } from "effect"
import * as DhtRecords from "./DhtRecords.js"
import type { DhtOperationFailed, DialFailed } from "./Errors.js"
import { catalogPubsub } from "./internal/CatalogGossip.js"
import { drain } from "./internal/query.js"
import type { Membership } from "./Provenance.js"

/** Our Kademlia protocol id: a private DHT, never mixed with the public IPFS one. */
export const DHT_PROTOCOL = "/beemesh/kad/1.0.0"

/** The libp2p node every Beemesh node runs: the DHT beside identify and ping. */
export type BeemeshLibp2p = Libp2p<{ dht: KadDHT; identify: Identify; ping: Ping }>

/**
 * The node's settings (listen/announce addresses, identity, dial timeout, connection limits,
 * bootstrap, relays, hole punching, the mesh key and certified membership; see @beemesh/p2p for
 * each and its default) and the DHT's.
 */
export interface Libp2pNodeOptions
  extends Pick<
      P2pNodeOptions,
      | "listen"
      | "announce"
      | "bootstrap"
      | "bootstrapRetryMs"
      | "dialTimeoutMs"
      | "maxConnections"
      | "inboundConnectionThreshold"
      | "maxIncomingPendingConnections"
      | "relays"
      | "relayServer"
      | "holePunching"
      | "meshKey"
      | "membership"
    >,
    P2pIdentity {
  /** Kademlia protocol id. Default {@link DHT_PROTOCOL}. */
  readonly dhtProtocol?: string
  /**
   * How often every connection is pinged (libp2p's connection monitor; a peer that stops
   * answering loses its connection). Default 60 s, not libp2p's 10 s: an agent holds a
   * connection to most agents of the mesh (DHT walks, gossip), both ends ping each one, and at
   * 10 s those pings were most of an idle agent's CPU (8 of 14 ms/s in a mesh of 30). A dead
   * agent's connection goes within about the lifetime of its records (60 s) either way. Keep it
   * under 2 min: `@libp2p/tcp` closes a socket idle that long, and the pings are what keeps a
   * quiet connection open (past it, quiet peers would be dialled and handshaken again and again).
   */
  readonly pingIntervalMs?: number
  /**
   * Records and bytes one signer may keep in this node's store (beyond them its puts are refused
   * as over-quota). Default {@link DhtRecords.DEFAULT_SIGNER_QUOTA}.
   */
  readonly signerQuota?: DhtRecords.SignerQuotaLimits
  /**
   * Record provenance under the mesh's membership (`membership`, above, is the same mesh's check
   * on connections): records this node signs carry its agent certificate, and its DHT
   * validators and the registry accept only records whose signer's certificate chains to the
   * authority and is neither expired nor revoked. Default none (any valid signature is accepted).
   */
  readonly provenance?: Membership
  /** Extra kad-dht validators/selectors, keyed by a key's first segment, beside the registry's. */
  readonly validators?: Validators
  readonly selectors?: Selectors
  /**
   * Run gossipsub (libp2p service `pubsub`) for the replicated service catalog: required by
   * `Catalog.layer`. Its topic belongs to the mesh authority of `provenance`. Default false.
   */
  readonly catalog?: boolean
}

export interface Libp2pNodeShape {
  /** The running libp2p node: register protocol handlers on it (e.g. the proxy's). */
  readonly node: BeemeshLibp2p
  readonly peerId: PeerId
  /** The identity key, to sign records as this peer. */
  readonly privateKey: PrivateKey
  readonly dht: KadDHT
  /** The gossipsub router, when the node runs the catalog (`catalog: true`). */
  readonly pubsub: GossipSub | undefined
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
  /** The membership the node was started with (the registry signs and checks records by it). */
  readonly provenance: Membership | undefined
  /** Certified membership of connected peers (see @beemesh/p2p's `P2pNode`). */
  readonly member: P2pNode["member"]
  readonly awaitMember: P2pNode["awaitMember"]
  readonly onMemberChange: P2pNode["onMemberChange"]
  readonly recheckMembers: P2pNode["recheckMembers"]
}

const dhtService = (options: Libp2pNodeOptions) =>
  kadDHT({
    protocol: options.dhtProtocol ?? DHT_PROTOCOL,
    // Our hosts sit on loopback and LANs: without server mode and a mapper that keeps private
    // addresses, nodes stay DHT clients and strip every address they could dial.
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    // A lone node must answer (from its own store) instead of waiting for a first peer.
    allowQueryWithZeroPeers: true,
    validators: {
      ...DhtRecords.validators(Date.now, options.signerQuota, options.provenance),
      ...options.validators,
    },
    selectors: { ...DhtRecords.selectors(), ...options.selectors },
  })

const REJOIN_FIRST_MS = 2_000
/** kad-dht's own self-query interval. */
const REJOIN_MAX_MS = 5 * 60_000

/**
 * Kademlia join: a lookup of our own id, which connects us to (and fills our routing table with)
 * the peers closest to us. kad-dht runs its own first self-query one second after start, then only
 * every 5 minutes: if that one ran before the bootstrap peers knew anybody, this node would stay
 * unknown.
 */
const joinOf = (node: BeemeshLibp2p, timeoutMs: number) =>
  drain(
    "getClosestPeers",
    node.peerId.toString(),
    timeoutMs,
    (signal) => node.services.dht.getClosestPeers(node.peerId.toMultihash().bytes, { signal }),
    0,
    (n) => n,
  ).pipe(Effect.asVoid, Effect.withSpan("Libp2pNode.join"))

const make = Effect.fn("Libp2pNode.make")(function* (options: Libp2pNodeOptions) {
  const {
    dhtProtocol: _protocol,
    validators: _validators,
    selectors: _selectors,
    signerQuota: _quota,
    provenance: _provenance,
    catalog,
    ...nodeOptions
  } = options
  const joinTimeoutMs = (options.dialTimeoutMs ?? 5_000) * 2
  const p2p = yield* makeP2pNode<{ dht: KadDHT }>({
    ...nodeOptions,
    pingIntervalMs: options.pingIntervalMs ?? 60_000,
    services: {
      dht: dhtService(options),
      ...(catalog === true ? { pubsub: catalogPubsub(options.provenance?.authority) } : {}),
    },
    onBootstrapped: (node) =>
      joinOf(node, joinTimeoutMs).pipe(
        Effect.catch((error) => Effect.logWarning(`DHT join failed: ${error.message}`)),
      ),
  })
  const { node } = p2p
  const dht = node.services.dht
  const routingTableSize = () => (dht as Partial<SingleKadDHT>).routingTable?.size ?? 0
  // A join that met only the bootstrap peers (too busy to answer before its deadline, or knowing
  // nobody else yet) would leave this node at the mesh's edge until kad-dht's next self-query,
  // 5 min later: it joins again, 2 s, 4 s, 8 s … (at most 5 min) apart, until its routing table
  // holds a peer beyond them.
  const bootstrapPeers = options.bootstrap?.length ?? 0
  const rejoin = (delayMs: number): Effect.Effect<void> =>
    Effect.suspend(() =>
      routingTableSize() > bootstrapPeers
        ? Effect.void
        : joinOf(node, joinTimeoutMs).pipe(
            Effect.ignore,
            Effect.andThen(rejoin(Math.min(delayMs * 2, REJOIN_MAX_MS))),
          ),
    ).pipe(Effect.delay(Duration.millis(delayMs)))
  if (bootstrapPeers > 0) yield* rejoin(REJOIN_FIRST_MS).pipe(Effect.forkScoped)
  return Libp2pNode.of({
    node,
    peerId: p2p.peerId,
    privateKey: p2p.privateKey,
    dht,
    pubsub: (node.services as { readonly pubsub?: GossipSub }).pubsub,
    multiaddrs: p2p.multiaddrs,
    dial: p2p.dial,
    join: joinOf(node, joinTimeoutMs),
    routingTableSize,
    provenance: options.provenance,
    member: p2p.member,
    awaitMember: p2p.awaitMember,
    onMemberChange: p2p.onMemberChange,
    recheckMembers: p2p.recheckMembers,
  })
})

/**
 * A scoped libp2p host node: @beemesh/p2p's node (TCP + Noise + Yamux, identify, ping) with a
 * Kademlia DHT in server mode on our own protocol id and the registry's record validators, joined
 * after each bootstrap that connects it. Stopped when its scope closes.
 */
export class Libp2pNode extends Context.Service<Libp2pNode, Libp2pNodeShape>()(
  "@beemesh/registry/Libp2pNode",
) {
  static readonly make = make
  static readonly layer = (options: Libp2pNodeOptions = {}) =>
    Layer.effect(Libp2pNode, make(options))
}
