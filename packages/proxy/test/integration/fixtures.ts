import { createHash, randomBytes } from "node:crypto"
import { readdirSync } from "node:fs"
import * as net from "node:net"
import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import type { ConnectionGater, Libp2p, Stream } from "@libp2p/interface"
import { tcp } from "@libp2p/tcp"
import { Context, Effect, Layer, Logger } from "effect"
import { createLibp2p } from "libp2p"
import {
  Inbound,
  type InboundOptions,
  Libp2pNode,
  type MetricsRegistry,
  Outbound,
  type OutboundOptions,
  PROXY_PROTOCOL,
  PROXY_PROTOCOL_REUSABLE,
  type Provider,
  ProxyMetrics,
  proxyConnectionManagerOptions,
  proxyYamuxOptions,
  Resolver,
  type UpstreamListener,
} from "../../src/index.js"

/**
 * A libp2p node on loopback (tcp + noise + yamux, the proxy's options), stopped when the scope
 * closes; `gater` for a test that needs its connections held up or refused.
 */
export const makeNodeWith = (gater?: ConnectionGater) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      createLibp2p({
        addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux(proxyYamuxOptions)],
        connectionManager: proxyConnectionManagerOptions,
        ...(gater === undefined ? {} : { connectionGater: gater }),
      }),
    ),
    (node) => Effect.promise(async () => node.stop()),
  )

/** A stream of the proxy's protocol (either version). */
export const isProxyStream = (stream: Stream): boolean =>
  stream.protocol === PROXY_PROTOCOL_REUSABLE || stream.protocol === PROXY_PROTOCOL

/** A libp2p node on loopback with the proxy's options, stopped when the scope closes. */
export const makeNode = makeNodeWith()

export const providerOf = (node: Libp2p): Provider => ({
  peerId: node.peerId,
  multiaddrs: node.getMultiaddrs(),
})

/** A TCP server on 127.0.0.1 that tracks its open sockets and closes them all on release. */
export interface TestServer {
  readonly port: number
  readonly open: Set<net.Socket>
}

export const startServer = (onSocket: (socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<{ server: net.Server; info: TestServer }>((resume) => {
      const open = new Set<net.Socket>()
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        open.add(socket)
        socket.on("close", () => open.delete(socket))
        socket.on("error", () => {})
        onSocket(socket)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as net.AddressInfo
        resume(Effect.succeed({ server, info: { port: address.port, open } }))
      })
    }),
    ({ server, info }) =>
      Effect.callback<void>((resume) => {
        for (const socket of info.open) socket.destroy()
        server.close(() => resume(Effect.void))
      }),
  ).pipe(Effect.map(({ info }) => info))

/** Echoes every byte and half-closes after the caller does. */
export const echoApp = (socket: net.Socket) => socket.pipe(socket)

/** A port with nothing listening on it (bound, then released). */
export const deadPort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface LogLine {
  readonly level: string
  readonly text: string
}

/** Logs kept in memory so tests can assert that an error was reported. */
export const captureLogs = () => {
  const lines: LogLine[] = []
  const layer = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      const parts = Array.isArray(message) ? message : [message]
      lines.push({ level: logLevel, text: parts.map(String).join(" ") })
    }),
  ])
  return { lines, layer }
}

export interface Mesh {
  readonly clientNode: Libp2p
  readonly serverNode: Libp2p
  readonly clientMetrics: MetricsRegistry
  readonly serverMetrics: MetricsRegistry
  readonly inbound: Inbound["Service"]
  readonly outbound: Outbound["Service"]
  readonly listen: (
    service: string,
  ) => Effect.Effect<UpstreamListener, unknown, import("effect").Scope.Scope>
  readonly logs: ReadonlyArray<LogLine>
}

export interface MeshOptions {
  readonly inbound: InboundOptions
  readonly outbound?: OutboundOptions
  /** Providers per service; default: every service → the server node. */
  readonly table?: (server: Libp2p) => Record<string, ReadonlyArray<Provider>>
}

/**
 * Two libp2p nodes: the client node runs Outbound (upstream listeners), the server node runs
 * Inbound (exposed targets). Everything is released with the scope.
 */
export const makeMesh = (options: MeshOptions) =>
  Effect.gen(function* () {
    const logs = captureLogs()
    const serverNode = yield* makeNode
    const clientNode = yield* makeNode
    const services = Object.keys(options.inbound.services ?? {})
    const table =
      options.table?.(serverNode) ??
      Object.fromEntries(services.map((name) => [name, [providerOf(serverNode)]]))
    const serverCtx = yield* Layer.build(
      Inbound.layer(options.inbound).pipe(
        Layer.provideMerge(ProxyMetrics.layer),
        Layer.provide(Libp2pNode.layer(serverNode)),
        Layer.provide(logs.layer),
      ),
    )
    const clientCtx = yield* Layer.build(
      Outbound.layer(options.outbound).pipe(
        Layer.provideMerge(ProxyMetrics.layer),
        Layer.provide(Libp2pNode.layer(clientNode)),
        Layer.provide(Resolver.static(table)),
        Layer.provide(logs.layer),
      ),
    )
    const outbound = Context.get(clientCtx, Outbound)
    return {
      clientNode,
      serverNode,
      clientMetrics: Context.get(clientCtx, ProxyMetrics),
      serverMetrics: Context.get(serverCtx, ProxyMetrics),
      inbound: Context.get(serverCtx, Inbound),
      outbound,
      listen: (service: string) => outbound.listen({ service, port: 0 }),
      logs: logs.lines,
    } satisfies Mesh
  })

/** Connects to a local port with half-open allowed. */
export const connect = (port: number): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true }, () => {
      socket.off("error", reject)
      // Tests that expect an error listen for it; a stray reset at teardown must not crash the run.
      socket.on("error", () => {})
      resolve(socket)
    })
    socket.once("error", reject)
  })

/**
 * Resolves when the socket is closed (at once if it is already), with whether it saw an error.
 * Reads (and drops) data: a socket that is not read from never notices a reset.
 */
export const closed = (socket: net.Socket) =>
  new Promise<{ hadError: boolean }>((resolve) => {
    if (socket.closed) return resolve({ hadError: socket.errored !== null })
    socket.once("close", (hadError) => resolve({ hadError }))
    socket.resume()
  })

/** Sends `text` through a local port, half-closes, and resolves with everything answered. */
export const echo = async (port: number, text: string): Promise<string> => {
  const socket = await connect(port)
  socket.end(text)
  return (await readAll(socket)).toString()
}

/** Reads a socket to its end; rejects on error. */
export const readAll = (socket: net.Socket): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.once("end", () => resolve(Buffer.concat(chunks)))
    socket.once("error", reject)
  })

/** Polls until `check` holds or the deadline passes; the error names what was awaited. */
export const waitFor = async (what: string, check: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const openFds = () => readdirSync("/proc/self/fd").length

/**
 * A deterministic-enough payload source: 1 MiB random block, each chunk stamped with its index so
 * reordered or duplicated chunks change the hash.
 */
export const payloadChunks = function* (totalBytes: number, chunkBytes = 1024 * 1024) {
  const block = randomBytes(chunkBytes)
  for (let offset = 0, i = 0; offset < totalBytes; offset += chunkBytes, i++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(chunkBytes, totalBytes - offset)))
    chunk.writeUInt32BE(i, 0)
    yield chunk
  }
}

/** Writes `totalBytes` with backpressure, then ends; resolves with the sha256 of what was sent. */
export const sendPayload = async (
  socket: net.Socket,
  totalBytes: number,
  onProgress?: (sent: number) => void,
) => {
  const hash = createHash("sha256")
  let sent = 0
  for (const chunk of payloadChunks(totalBytes)) {
    hash.update(chunk)
    sent += chunk.byteLength
    onProgress?.(sent)
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(new Error("socket closed while sending"))
        socket.once("close", onClose)
        socket.once("drain", () => {
          socket.off("close", onClose)
          resolve()
        })
      })
    }
  }
  socket.end()
  return hash.digest("hex")
}

/** Reads to the end; resolves with the sha256 and byte count of what arrived. */
export const receiveDigest = (socket: net.Socket) =>
  new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
    const hash = createHash("sha256")
    let bytes = 0
    socket.on("data", (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.byteLength
    })
    socket.once("end", () => resolve({ hash: hash.digest("hex"), bytes }))
    socket.once("error", reject)
  })

/**
 * Resolves with the error a socket sees (for reset tests); rejects if it closes cleanly. Keeps the
 * socket reading: one that is not read from never notices a reset.
 */
export const nextError = (socket: net.Socket) =>
  new Promise<NodeJS.ErrnoException>((resolve, reject) => {
    socket.once("error", resolve)
    socket.once("close", (hadError) => {
      if (!hadError) reject(new Error("socket closed without an error"))
    })
    socket.resume()
  })
