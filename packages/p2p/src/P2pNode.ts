/**
 * The one way a Beemesh process assembles its libp2p node: TCP + Noise + Yamux with identify and
 * ping, an identity, listen and announce addresses, connection-manager limits fit for many nodes
 * on one address, a bounded dial, and bootstrap with retry; circuit relay v2 (dialling relayed
 * addresses always; a relay server or slots at relays when asked) and DCUtR hole punching, whose
 * outcomes are logged and counted. Started when acquired, stopped when its
 * scope closes. Callers add their own services (the registry its DHT) and muxer settings (the
 * sidecar the proxy's stream limits).
 */
import { noise } from "@chainsafe/libp2p-noise"
import { type YamuxMuxerInit, yamux } from "@chainsafe/libp2p-yamux"
import { circuitRelayServer, circuitRelayTransport } from "@libp2p/circuit-relay-v2"
import { generateKeyPair } from "@libp2p/crypto/keys"
import { dcutr } from "@libp2p/dcutr"
import { type Identify, identify } from "@libp2p/identify"
import type { Libp2p, PeerId, PrivateKey, ServiceMap } from "@libp2p/interface"
import { type Ping, ping } from "@libp2p/ping"
import { preSharedKey } from "@libp2p/pnet"
import { tcp } from "@libp2p/tcp"
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr"
import { Duration, Effect, Queue, type Scope } from "effect"
import { createLibp2p, type ServiceFactoryMap } from "libp2p"
import type { Member } from "./Certificate.js"
import { DialFailed, type KeyFileError, NodeStartFailed } from "./Errors.js"
import {
  DEFAULT_HOLE_PUNCH_WINDOW_MS,
  type HolePunchCounts,
  type HolePunchOutcome,
  HolePunchWatch,
} from "./HolePunch.js"
import { MembershipGate } from "./internal/MembershipGate.js"
import { quietScopes } from "./internal/quietScopes.js"
import { keepRelaySlots } from "./internal/RelaySlots.js"
import { loadOrCreateKey } from "./KeyFile.js"
import type { MemberListener, MembershipOptions } from "./Membership.js"
import { type MeshKey, swarmKeyBytes } from "./MeshKey.js"
import {
  circuitAddress,
  type RelayServerOptions,
  relayAddressProblem,
  relayServerInit,
} from "./Relay.js"

/** The services every Beemesh node runs. */
export type BaseServices = {
  readonly identify: Identify
  readonly ping: Ping
}

// biome-ignore lint/complexity/noBannedTypes: "no extra services" is the empty service map.
export type NoServices = {}

export interface P2pNodeOptions<S extends ServiceMap = NoServices> {
  /** Listen multiaddrs. Default `/ip4/127.0.0.1/tcp/0` (loopback, ephemeral port). */
  readonly listen?: ReadonlyArray<string>
  /** Addresses to announce instead of the listen addresses (e.g. a published port). */
  readonly announce?: ReadonlyArray<string>
  /** Timeout of one dial (bootstrap and `dial`). Default 5 s. */
  readonly dialTimeoutMs?: number
  /** Connection manager limit. Default 300. */
  readonly maxConnections?: number
  /**
   * How often libp2p's connection monitor pings every connection (a new stream each time, from
   * both ends); a connection whose peer does not answer in time is closed. Default 10 s
   * (libp2p's). A node connected to most of a large mesh pays for it in the background: each
   * connection costs one ping stream per interval at each end.
   */
  readonly pingIntervalMs?: number
  /**
   * Inbound connections per second accepted from one IP. libp2p's default of 5 breaks meshes
   * where many nodes share an address (loopback, NAT, pods behind slirp4netns). Default 1000.
   */
  readonly inboundConnectionThreshold?: number
  /** Inbound connections still upgrading at once (default in libp2p: 10). Default 256. */
  readonly maxIncomingPendingConnections?: number
  /** Yamux settings, e.g. the proxy's stream limits. Default: yamux's own. */
  readonly yamux?: YamuxMuxerInit
  /** Services beside identify and ping (which they may use), e.g. `{ dht: kadDHT(…) }`. */
  readonly services?: Omit<ServiceFactoryMap<S & BaseServices>, keyof BaseServices>
  /** Multiaddrs (with `/p2p/<id>`) dialled at start; unreachable ones are logged, not fatal. */
  readonly bootstrap?: ReadonlyArray<string>
  /**
   * While the node has no connection at all, bootstrap peers are re-dialled this often, so a
   * host that starts before its peers still joins. Default 5 s.
   */
  readonly bootstrapRetryMs?: number
  /** Runs after each bootstrap round that left the node connected (e.g. a DHT join). */
  readonly onBootstrapped?: (node: Libp2p<S & BaseServices>) => Effect.Effect<void>
  /**
   * Bound on stopping the node: libp2p's stop waits for every connection to close. Default: no
   * bound.
   */
  readonly stopTimeoutMs?: number
  /**
   * Relays (multiaddrs ending in `/p2p/<relay id>`) at which this node, unreachable from the
   * mesh (behind a NAT), holds a slot; it is then reached at `<relay>/p2p-circuit/p2p/<self>`.
   * The node does not start when a relay cannot be reached or refuses the slot.
   */
  readonly relays?: ReadonlyArray<string>
  /**
   * How often the slots at `relays` are checked; a lost one (the relay restarted, the path was
   * cut) is taken again. Default 5 s.
   */
  readonly relaySlotCheckMs?: number
  /** Run a circuit relay v2 server for nodes behind NAT, with these limits. Default: none. */
  readonly relayServer?: RelayServerOptions
  /**
   * Run DCUtR, which tries to replace a relayed connection with a direct one (both ends must run
   * it). Default false.
   */
  readonly holePunching?: boolean
  /** How long after a relayed connection a direct one counts as a hole punched. Default 20 s. */
  readonly holePunchWindowMs?: number
  /**
   * The mesh key: every connection is wrapped in libp2p's private network protector under it, so
   * only peers holding the same key complete a connection with this node (inbound and outbound).
   * Default: none, an open node any peer can connect to.
   */
  readonly meshKey?: MeshKey
  /** How long a peer has to complete the private network's nonce exchange. Default 2 s. */
  readonly meshHandshakeTimeoutMs?: number
  /**
   * How long an inbound connection may take to complete its whole upgrade (private network, Noise,
   * Yamux); a peer that stalls anywhere in it is dropped then. Default 5 s (libp2p's is 10 s): a
   * real upgrade takes milliseconds, and each stalled one holds one of the
   * `maxIncomingPendingConnections` slots until it is dropped.
   */
  readonly inboundUpgradeTimeoutMs?: number
  /**
   * Certified membership on every connection (see Membership.ts): peers present their chain
   * on `/beemesh/member/1.0.0` and are disconnected unless it verifies within the bound.
   * Default: none, every peer that completes a connection is served.
   */
  readonly membership?: MembershipOptions
}

/**
 * Identity: an explicit private key, else a key file (created with mode 0600 when missing, refused
 * when readable by others), else a fresh ephemeral Ed25519 identity.
 */
export interface P2pIdentity {
  readonly privateKey?: PrivateKey
  readonly keyFile?: string
}

export interface P2pNode<S extends ServiceMap = NoServices> {
  /** The running libp2p node: register protocol handlers on it (e.g. the proxy's). */
  readonly node: Libp2p<S & BaseServices>
  readonly peerId: PeerId
  /** The identity key, to sign records as this peer. */
  readonly privateKey: PrivateKey
  readonly multiaddrs: () => ReadonlyArray<Multiaddr>
  /** Dials a peer by multiaddr, within the dial timeout. */
  readonly dial: (address: string | Multiaddr) => Effect.Effect<PeerId, DialFailed>
  /** Where the node is reached through its relays (`<relay>/p2p-circuit/p2p/<self>`). */
  readonly relayAddresses: ReadonlyArray<string>
  /** DCUtR hole punching so far. */
  readonly holePunch: () => HolePunchCounts
  /** Whether the node runs with `membership` (otherwise `member` knows nobody). */
  readonly membershipRequired: boolean
  /** What a connected peer proved (its verified chain), or undefined: not (yet) a member. */
  readonly member: (peer: PeerId | string) => Member | undefined
  /**
   * Waits until a connected peer proved membership; undefined once it is refused, gone, or the
   * membership bound passed (a stream can arrive before the chain of its connection).
   */
  readonly awaitMember: (peer: PeerId | string) => Effect.Effect<Member | undefined>
  /** Calls `listener` whenever a peer is admitted, re-admitted (renewal) or dropped. */
  readonly onMemberChange: (listener: MemberListener) => () => void
  /** Re-checks connected members against expiry and `revoked()` now (else every second). */
  readonly recheckMembers: () => void
}

const DEFAULT_LISTEN = "/ip4/127.0.0.1/tcp/0"

const withTimeout = (ms: number, signal?: AbortSignal) =>
  signal === undefined
    ? AbortSignal.timeout(ms)
    : AbortSignal.any([signal, AbortSignal.timeout(ms)])

/** The node's identity, by the precedence {@link P2pIdentity} describes. */
const resolveIdentity = (options: P2pIdentity): Effect.Effect<PrivateKey, KeyFileError> => {
  if (options.privateKey !== undefined) return Effect.succeed(options.privateKey)
  if (options.keyFile !== undefined) return loadOrCreateKey(options.keyFile)
  return Effect.promise(() => generateKeyPair("Ed25519"))
}

const start = <S extends ServiceMap>(
  options: P2pNodeOptions<S>,
  privateKey: PrivateKey,
  watch: HolePunchWatch,
  gate: MembershipGate | undefined,
) => {
  const relays = options.relays ?? []
  const listen = [
    ...(options.listen ?? [DEFAULT_LISTEN]),
    ...relays.map((relay) => `${relay}/p2p-circuit`),
  ]
  const services = {
    identify: identify(),
    ping: ping(),
    ...(options.holePunching === true ? { dcutr: dcutr() } : {}),
    ...(options.relayServer === undefined
      ? {}
      : { relay: circuitRelayServer(relayServerInit(options.relayServer)) }),
    ...options.services,
  } as ServiceFactoryMap<S & BaseServices>
  const problems = relays.flatMap((relay) => relayAddressProblem(relay) ?? [])
  if (problems.length > 0)
    return Effect.fail(
      new NodeStartFailed({ listen, cause: new Error(`bad relay: ${problems.join("; ")}`) }),
    )
  return Effect.tryPromise({
    try: () =>
      createLibp2p<S & BaseServices>({
        privateKey,
        // Per-connection and per-stream scopes cost nothing while nothing would be logged.
        logger: quietScopes(watch.logger()),
        addresses: {
          listen,
          ...(options.announce === undefined ? {} : { announce: [...options.announce] }),
        },
        // Every node can dial a relayed address; only nodes with `relays` listen on one.
        transports: [tcp(), circuitRelayTransport()],
        ...(options.meshKey === undefined
          ? {}
          : {
              connectionProtector: preSharedKey({
                psk: swarmKeyBytes(options.meshKey),
                timeout: options.meshHandshakeTimeoutMs ?? 2_000,
              }),
            }),
        ...(gate === undefined ? {} : { connectionGater: gate.gater }),
        connectionEncrypters: [noise()],
        streamMuxers: [yamux(options.yamux)],
        connectionManager: {
          maxConnections: options.maxConnections ?? 300,
          inboundConnectionThreshold: options.inboundConnectionThreshold ?? 1000,
          maxIncomingPendingConnections: options.maxIncomingPendingConnections ?? 256,
          dialTimeout: options.dialTimeoutMs ?? 5_000,
          inboundUpgradeTimeout: options.inboundUpgradeTimeoutMs ?? 5_000,
        },
        services,
        connectionMonitor: { pingInterval: options.pingIntervalMs ?? 10_000 },
      }),
    catch: (cause) => new NodeStartFailed({ listen, cause }),
  })
}

const stop = (node: Libp2p, timeoutMs: number | undefined) => {
  const stopping = Effect.promise(async () => node.stop())
  return timeoutMs === undefined
    ? stopping
    : stopping.pipe(Effect.timeoutOption(Duration.millis(timeoutMs)), Effect.asVoid)
}

/** Starts a node with the identity `privateKey` in the current scope; closing the scope stops it. */
export const startP2pNode: <S extends ServiceMap = NoServices>(
  privateKey: PrivateKey,
  options?: P2pNodeOptions<S>,
) => Effect.Effect<P2pNode<S>, NodeStartFailed, Scope.Scope> = Effect.fn("P2pNode.start")(
  function* <S extends ServiceMap = NoServices>(
    privateKey: PrivateKey,
    options: P2pNodeOptions<S> = {},
  ) {
    const outcomes = yield* Queue.unbounded<HolePunchOutcome>()
    const logs = yield* Queue.unbounded<{
      readonly level: "info" | "warning"
      readonly message: string
    }>()
    const watch = new HolePunchWatch(
      options.holePunchWindowMs ?? DEFAULT_HOLE_PUNCH_WINDOW_MS,
      (outcome) => Queue.offerUnsafe(outcomes, outcome),
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => watch.close()))
    yield* Queue.take(outcomes).pipe(
      Effect.flatMap((o) =>
        o.outcome === "succeeded"
          ? Effect.logInfo(`hole punch to ${o.peer} succeeded: ${o.detail}`)
          : Effect.logWarning(
              `hole punch to ${o.peer} failed, traffic stays on the relay: ${o.detail}`,
            ),
      ),
      Effect.forever,
      Effect.forkScoped,
    )
    const gate =
      options.membership === undefined
        ? undefined
        : new MembershipGate(options.membership, (level, message) =>
            Queue.offerUnsafe(logs, { level, message }),
          )
    yield* Queue.take(logs).pipe(
      Effect.flatMap(({ level, message }) =>
        level === "info" ? Effect.logInfo(message) : Effect.logWarning(message),
      ),
      Effect.forever,
      Effect.forkScoped,
    )
    const node = yield* Effect.acquireRelease(start(options, privateKey, watch, gate), (node) =>
      stop(node, options.stopTimeoutMs),
    )
    if (gate !== undefined)
      yield* Effect.acquireRelease(
        Effect.promise(() => gate.attach(node)),
        () => Effect.sync(() => gate.detach()),
      )
    // Without DCUtR a relayed connection is no attempt at anything.
    if (options.holePunching === true)
      node.addEventListener("connection:open", (event) =>
        watch.opened(event.detail.remotePeer.toString(), event.detail.remoteAddr.toString()),
      )
    const dialTimeoutMs = options.dialTimeoutMs ?? 5_000
    if ((options.relays ?? []).length > 0)
      yield* keepRelaySlots(
        node,
        options.relays ?? [],
        options.relaySlotCheckMs ?? 5_000,
        dialTimeoutMs * 2,
      )
    const dial = Effect.fn("P2pNode.dial")(function* (address: string | Multiaddr) {
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
    const peers = options.bootstrap ?? []
    const onBootstrapped = options.onBootstrapped ?? (() => Effect.void)
    const bootstrap = Effect.gen(function* () {
      yield* Effect.forEach(
        peers,
        (address) =>
          dial(address).pipe(
            Effect.catch((error) =>
              Effect.logWarning(`bootstrap peer unreachable: ${error.message}`),
            ),
          ),
        { concurrency: "unbounded", discard: true },
      )
      if (node.getConnections().length > 0) yield* onBootstrapped(node)
    })
    yield* bootstrap
    if (peers.length > 0) {
      yield* Effect.suspend(() =>
        node.getConnections().length === 0 ? bootstrap : Effect.void,
      ).pipe(Effect.delay(options.bootstrapRetryMs ?? 5_000), Effect.forever, Effect.forkScoped)
    }
    return {
      node,
      peerId: node.peerId,
      privateKey,
      multiaddrs: () => node.getMultiaddrs(),
      dial,
      relayAddresses: (options.relays ?? []).map((relay) =>
        circuitAddress(relay, node.peerId.toString()),
      ),
      holePunch: watch.snapshot,
      membershipRequired: gate !== undefined,
      member: (peer) => gate?.member(peer.toString()),
      awaitMember: (peer) =>
        gate === undefined
          ? Effect.undefined
          : Effect.promise(() => gate.whenMember(peer.toString())),
      onMemberChange: (listener) => gate?.onChange(listener) ?? (() => {}),
      recheckMembers: () => gate?.recheck(),
    } satisfies P2pNode<S>
  },
)

/** Resolves the identity ({@link P2pIdentity}), then starts the node as {@link startP2pNode}. */
export const makeP2pNode = <S extends ServiceMap = NoServices>(
  options: P2pNodeOptions<S> & P2pIdentity = {},
): Effect.Effect<P2pNode<S>, KeyFileError | NodeStartFailed, Scope.Scope> =>
  resolveIdentity(options).pipe(Effect.flatMap((privateKey) => startP2pNode(privateKey, options)))
