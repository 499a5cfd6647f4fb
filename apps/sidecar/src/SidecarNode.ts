/**
 * The sidecar's libp2p node: its own workload identity (never the host's key), TCP + Noise +
 * Yamux, listening on the pod's container port and announcing the host address + published port
 * the agent gave it; behind a NAT, it holds a slot at the agent-given relays and also announces
 * its circuit addresses there. Runs DCUtR. With the agent's mesh key it runs the mesh's private
 * network: peers without the key never complete a connection to it; with the agent's mesh
 * authority every connection must prove certified membership (its own chain comes with each
 * lease, see MemberChain). Started when the layer is built, stopped when its scope closes.
 */
import {
  type HolePunchCounts,
  loadKey,
  type MembershipOptions,
  MeshKey,
  type NodeStartFailed,
  type P2pNode,
  type P2pNodeOptions,
  RevocationList,
  type Revoked,
  revokedSet,
  startP2pNode,
} from "@beemesh/p2p"
import { SameHost } from "@beemesh/proxy"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { Libp2p, PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Context, Data, Effect, Layer, Redacted } from "effect"
import { prepareSameHostSocket, type SameHostPod } from "./SameHostSocket"
import { SidecarConfig } from "./SidecarConfig"

export class IdentityKeyUnusable extends Data.TaggedError("IdentityKeyUnusable")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `the identity key file ${this.path} (BEEMESH_IDENTITY_KEY_FILE) is unusable: ${this.reason}`
  }
}

export interface SidecarNodeOptions {
  readonly listenHost: string
  readonly listenPort: number
  readonly announce: ReadonlyArray<string>
  readonly identityKeyFile: string | undefined
  /** Relays to hold a slot at (the host is behind a NAT). */
  readonly relays?: ReadonlyArray<string> | undefined
  /** The mesh key (from the agent): only members complete a connection. Absent: an open node. */
  readonly meshKey?: MeshKey | undefined
  /** The host's same-host socket directory and this pod: also listen on a unix socket there. */
  readonly sameHost?: SameHostPod | undefined
  /**
   * Certified membership (the authority from the agent, the chain from the latest lease): every
   * connection must prove membership within the bound. Absent: no check.
   */
  readonly membership?: Pick<MembershipOptions, "authority" | "chain" | "revoked"> | undefined
  /** Extra libp2p settings the proxy asks for (yamux stream limits, connection manager). */
  readonly yamux?: P2pNodeOptions["yamux"]
  readonly connectionManager?: Pick<
    P2pNodeOptions,
    "inboundConnectionThreshold" | "maxIncomingPendingConnections"
  >
}

/**
 * The sidecar's membership state from its registration leases: its chain, `[agent, sidecar]`
 * certificates, empty until the first lease (so the sidecar presents nothing and its peers drop
 * it: it serves no peer before the agent has certified it), and the newest revocation list the
 * agent passed on (checked against the authority).
 */
export class MemberChain extends Context.Service<
  MemberChain,
  {
    readonly current: () => ReadonlyArray<string>
    readonly set: (chain: ReadonlyArray<string>) => void
    readonly revoked: () => Revoked
    /** Adopts a newer list signed by the authority; others are ignored. */
    readonly offerRevocations: (text: string) => Promise<void>
  }
>()("@beemesh/sidecar/MemberChain") {
  static readonly layer = Layer.effect(
    MemberChain,
    Effect.gen(function* () {
      const config = yield* SidecarConfig
      const list =
        config.meshAuthority === undefined ? undefined : new RevocationList(config.meshAuthority)
      let chain: ReadonlyArray<string> = []
      return {
        current: () => chain,
        set: (next: ReadonlyArray<string>) => {
          chain = next
        },
        revoked: () => list?.revoked() ?? revokedSet(undefined),
        offerRevocations: async (text: string) => {
          await list?.offer(text)
        },
      }
    }),
  )
}

export interface SidecarNodeShape {
  readonly node: Libp2p
  /** What a connected peer proved (see @beemesh/p2p's membership); undefined: not a member. */
  readonly member: P2pNode["member"]
  /** Waits up to the membership bound for a connected peer's proof. */
  readonly awaitMember: P2pNode["awaitMember"]
  /** Whether the node checks membership at all (the agent gave an authority). */
  readonly membershipRequired: boolean
  readonly peerId: string
  /** What the sidecar registers: the announced addresses, then its relayed ones. */
  readonly advertise: ReadonlyArray<string>
  /** The unix socket it listens on for the sidecars of its host, if any. */
  readonly sameHostSocket: string | undefined
  readonly holePunch: () => HolePunchCounts
}

/** Loads the workload key from a file, or makes an ephemeral one. */
export const loadIdentity = (
  path: string | undefined,
): Effect.Effect<PrivateKey, IdentityKeyUnusable> =>
  path === undefined
    ? Effect.promise(() => generateKeyPair("Ed25519"))
    : loadKey(path).pipe(
        Effect.mapError((error) => new IdentityKeyUnusable({ path, reason: error.reason })),
      )

export class SidecarNode extends Context.Service<SidecarNode, SidecarNodeShape>()(
  "@beemesh/sidecar/SidecarNode",
) {
  static readonly make = Effect.fn("SidecarNode.make")(function* (options: SidecarNodeOptions) {
    const privateKey = yield* loadIdentity(options.identityKeyFile)
    const socket =
      options.sameHost === undefined
        ? undefined
        : yield* prepareSameHostSocket(
            options.sameHost,
            peerIdFromPrivateKey(privateKey).toString(),
          )
    // Registered with the agent, not announced to peers: identify would hand it to every peer.
    const local = socket === undefined ? [] : [SameHost.unixAddress(socket).toString()]
    const p2p = yield* startP2pNode(privateKey, {
      listen: [`/ip4/${options.listenHost}/tcp/${options.listenPort}`, ...local],
      announce: options.announce,
      ...(options.relays === undefined ? {} : { relays: options.relays }),
      holePunching: true,
      ...(options.meshKey === undefined ? {} : { meshKey: options.meshKey }),
      ...(options.membership === undefined ? {} : { membership: options.membership }),
      ...(options.yamux === undefined ? {} : { yamux: options.yamux }),
      ...options.connectionManager,
      // libp2p's stop waits for connections to close; bound it so shutdown stays quick.
      stopTimeoutMs: 500,
    })
    const { node } = p2p
    return {
      node,
      peerId: node.peerId.toString(),
      // The direct address first: a peer behind the same NAT reaches it, the others fail fast.
      // The published address first, then the socket (only the host's sidecars can use it).
      advertise: [...options.announce, ...local, ...p2p.relayAddresses],
      sameHostSocket: socket,
      holePunch: p2p.holePunch,
      member: p2p.member,
      awaitMember: p2p.awaitMember,
      membershipRequired: p2p.membershipRequired,
    } satisfies SidecarNodeShape
  })

  /**
   * The node of the configuration: every address at the configured port, announcing the
   * configured addresses; `extra` adds the proxy's settings, and may listen and announce
   * elsewhere (the standby warm-up's throwaway nodes: 127.0.0.1, port 0, their own addresses).
   */
  static readonly layer = (
    extra: Pick<SidecarNodeOptions, "yamux" | "connectionManager"> &
      Partial<Pick<SidecarNodeOptions, "listenHost" | "listenPort" | "announce">> = {},
  ): Layer.Layer<SidecarNode, IdentityKeyUnusable | NodeStartFailed, SidecarConfig | MemberChain> =>
    Layer.effect(
      SidecarNode,
      Effect.gen(function* () {
        const config = yield* SidecarConfig
        const chain = yield* MemberChain
        return yield* SidecarNode.make({
          listenHost: "0.0.0.0",
          listenPort: config.listenPort,
          announce: config.advertise,
          identityKeyFile: config.identityKeyFile,
          relays: config.relays,
          meshKey:
            config.meshKey === undefined
              ? undefined
              : new MeshKey({ hex: Redacted.value(config.meshKey) }),
          sameHost:
            config.sameHostDirectory === undefined
              ? undefined
              : {
                  directory: config.sameHostDirectory,
                  namespace: config.namespace,
                  pod: config.pod,
                },
          membership:
            config.meshAuthority === undefined
              ? undefined
              : {
                  authority: config.meshAuthority,
                  chain: chain.current,
                  revoked: chain.revoked,
                },
          ...extra,
        })
      }),
    )
}
