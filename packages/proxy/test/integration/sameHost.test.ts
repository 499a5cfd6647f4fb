import { mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { it } from "@effect/vitest"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { Libp2p } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { tcp } from "@libp2p/tcp"
import type { Multiaddr } from "@multiformats/multiaddr"
import { Context, Effect, Layer } from "effect"
import { createLibp2p } from "libp2p"
import { describe, expect } from "vitest"
import {
  Inbound,
  Libp2pNode,
  Outbound,
  type OutboundOptions,
  ProxyMetrics,
  proxyConnectionManagerOptions,
  proxyYamuxOptions,
  Resolver,
  SameHost,
} from "../../src/index.js"
import { echo, echoApp, startServer } from "./fixtures.js"

/** A directory of sockets shared by the nodes of one test, removed with the scope. */
const socketDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "bm-samehost-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

/** A node on loopback TCP, and on a unix socket in `directory` named for its peer id when given. */
const makeNode = (directory?: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const privateKey = await generateKeyPair("Ed25519")
      const peerId = peerIdFromPrivateKey(privateKey).toString()
      return createLibp2p({
        privateKey,
        addresses: {
          listen: [
            "/ip4/127.0.0.1/tcp/0",
            ...(directory === undefined
              ? []
              : [SameHost.unixAddress(SameHost.socketPath(directory, "pod", peerId)).toString()]),
          ],
        },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux(proxyYamuxOptions)],
        connectionManager: proxyConnectionManagerOptions,
      })
    }),
    (node) => Effect.promise(async () => node.stop()),
  )

/** Calls `provider` (exposing an echo app) through an Outbound on `caller`, registered at `addresses`. */
const callThrough = (
  caller: Libp2p,
  provider: Libp2p,
  addresses: ReadonlyArray<Multiaddr>,
  outbound: OutboundOptions,
) =>
  Effect.gen(function* () {
    const app = yield* startServer(echoApp)
    yield* Layer.build(
      Inbound.layer({ services: { echo: { host: "127.0.0.1", port: app.port } } }).pipe(
        Layer.provide([ProxyMetrics.layer, Libp2pNode.layer(provider)]),
      ),
    )
    const context = yield* Layer.build(
      Outbound.layer(outbound).pipe(
        Layer.provide([
          ProxyMetrics.layer,
          Libp2pNode.layer(caller),
          Resolver.static({ echo: [{ peerId: provider.peerId, multiaddrs: addresses }] }),
        ]),
      ),
    )
    const listener = yield* Context.get(context, Outbound).listen({ service: "echo", port: 0 })
    const started = performance.now()
    const answer = yield* Effect.promise(() => echo(listener.port, "hello"))
    const transports = caller
      .getConnections(provider.peerId)
      .map((c) => (SameHost.unixPathOf(c.remoteAddr) === undefined ? "tcp" : "unix"))
    return { answer, transports, ms: performance.now() - started }
  })

const tcpAddresses = (node: Libp2p) =>
  node.getMultiaddrs().filter((a) => SameHost.unixPathOf(a) === undefined)

describe("same-host path (OutboundOptions.sameHost)", () => {
  it.live("a provider with a socket in the shared directory is reached over it", () =>
    Effect.gen(function* () {
      const directory = yield* socketDirectory
      const provider = yield* makeNode(directory)
      const caller = yield* makeNode(directory)
      // Registered as a sidecar does: the published address and the socket.
      const result = yield* callThrough(caller, provider, provider.getMultiaddrs(), {
        sameHost: { directory },
      })
      expect(provider.getMultiaddrs().some((a) => SameHost.unixPathOf(a) !== undefined)).toBe(true)
      expect(result).toMatchObject({ answer: "hello", transports: ["unix"] })
    }),
  )

  it.live("without the option, a registered socket is never dialled", () =>
    Effect.gen(function* () {
      const directory = yield* socketDirectory
      const provider = yield* makeNode(directory)
      const caller = yield* makeNode()
      const result = yield* callThrough(caller, provider, provider.getMultiaddrs(), {})
      expect(result).toMatchObject({ answer: "hello", transports: ["tcp"] })
    }),
  )

  it.live("a socket in another directory (another agent, another host) is not dialled", () =>
    Effect.gen(function* () {
      const theirs = yield* socketDirectory
      const ours = yield* socketDirectory
      const provider = yield* makeNode(theirs)
      const caller = yield* makeNode(ours)
      const result = yield* callThrough(caller, provider, provider.getMultiaddrs(), {
        sameHost: { directory: ours },
      })
      expect(result).toMatchObject({ answer: "hello", transports: ["tcp"] })
    }),
  )

  it.live("a live socket named for another peer is not dialled, even in the own directory", () =>
    Effect.gen(function* () {
      const directory = yield* socketDirectory
      const other = yield* makeNode(directory)
      const provider = yield* makeNode()
      const caller = yield* makeNode(directory)
      // The provider registers the other node's socket as its own.
      const foreign = other.getMultiaddrs().filter((a) => SameHost.unixPathOf(a) !== undefined)
      const result = yield* callThrough(caller, provider, [...foreign, ...tcpAddresses(provider)], {
        sameHost: { directory },
      })
      expect(result).toMatchObject({ answer: "hello", transports: ["tcp"] })
      expect(caller.getConnections(other.peerId)).toEqual([])
    }),
  )

  it.live("a stale socket (its pod gone) falls back to TCP at once", () =>
    Effect.gen(function* () {
      const directory = yield* socketDirectory
      const provider = yield* makeNode()
      const caller = yield* makeNode(directory)
      const path = SameHost.socketPath(directory, "pod", provider.peerId.toString())
      // A socket file nobody listens on any more: bound, then the listener dropped without unlink.
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve, reject) => {
            const server = net.createServer().listen(path, () => {
              // biome-ignore lint/suspicious/noExplicitAny: libuv's handle, to leave the file behind
              ;(server as any)._handle.close()
              resolve()
            })
            server.on("error", reject)
          }),
      )
      const result = yield* callThrough(
        caller,
        provider,
        [SameHost.unixAddress(path), ...tcpAddresses(provider)],
        { sameHost: { directory } },
      )
      expect(result).toMatchObject({ answer: "hello", transports: ["tcp"] })
      expect(result.ms).toBeLessThan(1000)
    }),
  )

  it.live("a socket that accepts but never answers is given up after the same-host bound", () =>
    Effect.gen(function* () {
      const directory = yield* socketDirectory
      const provider = yield* makeNode()
      const caller = yield* makeNode(directory)
      const path = SameHost.socketPath(directory, "pod", provider.peerId.toString())
      const silent = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<net.Server>((resolve) => {
              const server = net.createServer(() => {}).listen(path, () => resolve(server))
            }),
        ),
        (server) => Effect.sync(() => server.close()),
      )
      expect(silent.listening).toBe(true)
      const result = yield* callThrough(
        caller,
        provider,
        [SameHost.unixAddress(path), ...tcpAddresses(provider)],
        { sameHost: { directory, dialTimeoutMs: 200 } },
      )
      expect(result).toMatchObject({ answer: "hello", transports: ["tcp"] })
      expect(result.ms).toBeGreaterThanOrEqual(150)
      expect(result.ms).toBeLessThan(2000)
    }),
  )
})
