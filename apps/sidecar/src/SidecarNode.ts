/**
 * The sidecar's libp2p node: its own workload identity (never the host's key), TCP + Noise +
 * Yamux, listening on the pod's container port and announcing the host address + published port
 * the agent gave it. Started when the layer is built, stopped when its scope closes.
 */
import { readFile } from "node:fs/promises"
import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { generateKeyPair, privateKeyFromProtobuf } from "@libp2p/crypto/keys"
import type { Libp2p, PrivateKey } from "@libp2p/interface"
import { tcp } from "@libp2p/tcp"
import { Context, Data, Duration, Effect, Layer } from "effect"
import { createLibp2p } from "libp2p"
import { SidecarConfig } from "./SidecarConfig"

export class IdentityKeyUnusable extends Data.TaggedError("IdentityKeyUnusable")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `the identity key file ${this.path} (BEEMESH_IDENTITY_KEY_FILE) is unusable: ${this.reason}`
  }
}

export class NodeStartFailed extends Data.TaggedError("NodeStartFailed")<{
  readonly listen: ReadonlyArray<string>
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `the sidecar's libp2p node could not start listening on ${this.listen.join(", ")}: ${reason}`
  }
}

export interface SidecarNodeOptions {
  readonly listenHost: string
  readonly listenPort: number
  readonly announce: ReadonlyArray<string>
  readonly identityKeyFile: string | undefined
  /** Extra libp2p settings the proxy asks for (yamux stream limits, connection manager). */
  readonly yamux?: Parameters<typeof yamux>[0]
  readonly connectionManager?: Record<string, number>
}

export interface SidecarNodeShape {
  readonly node: Libp2p
  readonly peerId: string
  /** What the sidecar registers: the announced addresses. */
  readonly advertise: ReadonlyArray<string>
}

/** Loads the workload key from a file, or makes an ephemeral one. */
export const loadIdentity = (
  path: string | undefined,
): Effect.Effect<PrivateKey, IdentityKeyUnusable> =>
  path === undefined
    ? Effect.promise(() => generateKeyPair("Ed25519"))
    : Effect.tryPromise({
        try: async () => privateKeyFromProtobuf(new Uint8Array(await readFile(path))),
        catch: (cause) =>
          new IdentityKeyUnusable({
            path,
            reason: cause instanceof Error ? cause.message : String(cause),
          }),
      })

export class SidecarNode extends Context.Service<SidecarNode, SidecarNodeShape>()(
  "@beemesh/sidecar/SidecarNode",
) {
  static readonly make = Effect.fn("SidecarNode.make")(function* (options: SidecarNodeOptions) {
    const privateKey = yield* loadIdentity(options.identityKeyFile)
    const listen = [`/ip4/${options.listenHost}/tcp/${options.listenPort}`]
    const node = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          createLibp2p({
            privateKey,
            addresses: { listen, announce: [...options.announce] },
            transports: [tcp()],
            connectionEncrypters: [noise()],
            streamMuxers: [yamux(options.yamux)],
            ...(options.connectionManager === undefined
              ? {}
              : { connectionManager: options.connectionManager }),
          }),
        catch: (cause) => new NodeStartFailed({ listen, cause }),
      }),
      // libp2p's stop waits for connections to close; bound it so shutdown stays quick.
      (node) =>
        Effect.promise(async () => node.stop()).pipe(Effect.timeoutOption(Duration.millis(500))),
    )
    return {
      node,
      peerId: node.peerId.toString(),
      advertise: options.announce,
    } satisfies SidecarNodeShape
  })

  static readonly layer = (
    extra: Pick<SidecarNodeOptions, "yamux" | "connectionManager"> = {},
  ): Layer.Layer<SidecarNode, IdentityKeyUnusable | NodeStartFailed, SidecarConfig> =>
    Layer.effect(
      SidecarNode,
      Effect.gen(function* () {
        const config = yield* SidecarConfig
        return yield* SidecarNode.make({
          listenHost: "0.0.0.0",
          listenPort: config.listenPort,
          announce: config.advertise,
          identityKeyFile: config.identityKeyFile,
          ...extra,
        })
      }),
    )
}
