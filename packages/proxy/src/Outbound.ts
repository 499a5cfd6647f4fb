import * as net from "node:net"
import type { Connection, PeerId, Stream } from "@libp2p/interface"
import { Context, Effect, FiberSet, Layer, Scope } from "effect"
import { defaults } from "./constants.js"
import {
  AllProvidersFailed,
  CallDenied,
  ListenFailed,
  NoProviders,
  ProviderFailed,
  type ResolveFailed,
} from "./Errors.js"
import { monotonicMs } from "./internal/clock.js"
import { EarlyData } from "./internal/earlyData.js"
import { readFrameWith } from "./internal/frames.js"
import { logAt, makeLogLimiter } from "./internal/logLimit.js"
import { ProviderSelector } from "./internal/providerSelector.js"
import { ReadyStreams } from "./internal/readyStreams.js"
import { describeEnd, startBridge } from "./internal/startBridge.js"
import { closeServer, listenTcp } from "./internal/tcp.js"
import { Libp2pNode } from "./Libp2pNode.js"
import { ProxyMetrics } from "./Metrics.js"
import {
  decodeStatus,
  encodeRequest,
  PROXY_PROTOCOL,
  PROXY_PROTOCOL_REUSABLE,
  type ProxyTarget,
  StatusCode,
} from "./Protocol.js"
import { type Provider, Resolver } from "./Resolver.js"
import { localAddressOf, unixPathOf } from "./SameHost.js"

export interface UpstreamOptions {
  /** The service to resolve (and, unless `target` says otherwise, to ask the provider for). */
  readonly service: string
  /** Local listen address (default 127.0.0.1). */
  readonly host?: string
  /** Local listen port; 0 picks a free one (see the returned listener). */
  readonly port: number
  /** What to ask the provider for (default: the service by name). */
  readonly target?: ProxyTarget
}

/** A bound upstream listener. */
export interface UpstreamListener {
  readonly service: string
  readonly host: string
  readonly port: number
}

export interface OutboundOptions {
  /** Dial + open stream + handshake, per provider tried (default 10 s). */
  readonly connectTimeoutMs?: number
  /**
   * Dialling a provider, and opening a stream on a connection to it, each within this (default
   * 750 ms); past it the next provider is tried. Short, because a provider on a lost host is
   * silent: without it each call to it waits out `connectTimeoutMs`. The last provider a
   * connection tries (the only one, often) has `connectTimeoutMs` instead: with none left to
   * fail over to, giving up early would only turn a slow answer into a reset.
   */
  readonly dialTimeoutMs?: number
  readonly idleTimeoutMs?: number
  /** Concurrent connections over all upstream listeners; more are reset at once. */
  readonly maxStreams?: number
  /** Providers tried per connection. */
  readonly maxAttempts?: number
  /** How long a provider that failed is tried last (default 10 s), doubling on failures in a row… */
  readonly failureCooldownMs?: number
  /** …up to this (default 60 s). */
  readonly maxFailureCooldownMs?: number
  readonly streamReadBufferBytes?: number
  /**
   * The caller's bytes are sent right behind the request, before the provider's status (one
   * round trip less per connection), and kept until that status for the next provider in case
   * this one refuses. Past this many kept bytes the caller waits for the status (default 64 KiB).
   */
  readonly earlyDataBytes?: number
  /**
   * Streams kept open and negotiated ahead of need per provider (default 0: none). A new
   * connection takes one and skips a round trip (multistream-select) and the stream's setup on
   * its path; the pool refills in the background. Each costs the provider an idle stream.
   */
  readonly readyStreams?: number
  /**
   * A ready stream unused for this long is closed and not replaced (default 5 s); keep it below
   * the providers' `handshakeTimeoutMs`, which would otherwise close it first.
   */
  readonly readyStreamMaxAgeMs?: number
  /**
   * A stream whose connection ended cleanly (`/beemesh/proxy/1.1.0`) waits for the next
   * connection to the same provider, like a ready stream (and closed after
   * `readyStreamMaxAgeMs` unused); at most this many wait per provider (default 32), more are
   * closed. 0: every stream carries one connection.
   */
  readonly maxIdleStreams?: number
  /**
   * Once a connection to a service is open, up to this many of its other providers that have no
   * connection yet are dialled in the background (default 8; 0: none): connections go to the
   * providers in turn, and each new provider otherwise costs the caller a dial (Noise and Yamux
   * handshakes) on its path. A failed background dial only marks nothing; the next caller dials.
   */
  readonly predialProviders?: number
  /**
   * The same-host path (see SameHost): a provider whose registered addresses name a unix socket
   * in this directory, named for its peer id, is dialled there first; a failed or slow dial
   * there (a stale socket) falls back to its other addresses. Absent: unix addresses are never
   * dialled.
   */
  readonly sameHost?: SameHostOptions
}

export interface SameHostOptions {
  /** The directory of sockets this caller shares with the other sidecars of its host. */
  readonly directory: string
  /** Bound on a dial over the unix socket before falling back (default 250 ms). */
  readonly dialTimeoutMs?: number
}

/**
 * The calling side: local TCP listeners, one per upstream service. Each accepted connection is
 * resolved to providers, carried on a `/beemesh/proxy/1.1.0` stream (`/beemesh/proxy/1.0.0` to
 * a provider that has only that) to the first provider that accepts it (round-robin, recently
 * failed providers last, existing connections and idle streams reused) and bridged. If no
 * provider accepts, the caller's connection is reset and the reason logged.
 */
export class Outbound extends Context.Service<
  Outbound,
  {
    /** Listens until the scope closes; closing it also resets that listener's connections. */
    readonly listen: (
      upstream: UpstreamOptions,
    ) => Effect.Effect<UpstreamListener, ListenFailed, Scope.Scope>
    /** Connections currently being served (connecting or bridged). */
    readonly activeConnections: () => number
  }
>()("@beemesh/proxy/Outbound") {
  static layer(
    options: OutboundOptions = {},
  ): Layer.Layer<Outbound, never, Libp2pNode | Resolver | ProxyMetrics> {
    return Layer.effect(Outbound, make(options))
  }
}

/** One connection's request frame and the caller's bytes that go right behind it. */
interface Early {
  readonly request: Uint8Array
  readonly data: EarlyData
}

interface Opened {
  readonly stream: Stream
  readonly connection: Connection
  /** The stream carries segments and can carry the next connection after this one. */
  readonly segmented: boolean
  readonly rest: Uint8Array | undefined
  readonly peer: string
  /** The provider's traffic label. */
  readonly label: string
}

const make = Effect.fnUntraced(function* (options: OutboundOptions) {
  const node = yield* Libp2pNode
  const resolver = yield* Resolver
  const metrics = yield* ProxyMetrics
  const connectTimeoutMs = options.connectTimeoutMs ?? defaults.connectTimeoutMs
  const dialTimeoutMs = Math.min(options.dialTimeoutMs ?? defaults.dialTimeoutMs, connectTimeoutMs)
  const idleTimeoutMs = options.idleTimeoutMs ?? defaults.idleTimeoutMs
  const maxStreams = options.maxStreams ?? defaults.maxStreams
  const maxAttempts = options.maxAttempts ?? defaults.maxAttempts
  const readBuffer = options.streamReadBufferBytes ?? defaults.streamReadBufferBytes
  const earlyDataBytes = options.earlyDataBytes ?? defaults.earlyDataBytes
  const selector = new ProviderSelector({
    failureCooldownMs: options.failureCooldownMs ?? defaults.failureCooldownMs,
    maxFailureCooldownMs: options.maxFailureCooldownMs ?? defaults.maxFailureCooldownMs,
  })
  const counters = metrics.outbound
  // 1.1.0 first; a provider that has only 1.0.0 answers that in the same round trip.
  const protocols = [PROXY_PROTOCOL_REUSABLE, PROXY_PROTOCOL]
  const openStream = (connection: Connection, signal: AbortSignal) =>
    connection.newStream(protocols, { signal, maxOutboundStreams: maxStreams + 1 })
  const ready = new ReadyStreams({
    size: options.readyStreams ?? defaults.readyStreams,
    maxIdle: options.maxIdleStreams ?? defaults.maxIdleStreams,
    maxAgeMs: options.readyStreamMaxAgeMs ?? defaults.readyStreamMaxAgeMs,
    // A timer cleared once the stream is open, not AbortSignal.timeout: that one fires (and
    // builds a DOMException) long after every stream it guarded is open.
    open: (connection) => {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), dialTimeoutMs)
      return openStream(connection, controller.signal).finally(() => clearTimeout(timer))
    },
  })
  yield* Effect.addFinalizer(() => Effect.sync(() => ready.close()))
  // Connection fibers run with the layer's services (loggers, tracer), not the caller of listen().
  const layerContext = yield* Effect.context<never>()
  const dialing = new Map<string, Promise<Connection>>()
  const predialProviders = options.predialProviders ?? defaults.predialProviders
  const sameHost = options.sameHost
  const sameHostDialTimeoutMs = sameHost?.dialTimeoutMs ?? defaults.sameHostDialTimeoutMs
  let active = 0

  /** The provider's socket on this host, if there is one it can be told by (else undefined). */
  const dialLocal = async (provider: Provider): Promise<Connection | undefined> => {
    if (sameHost === undefined) return undefined
    const local = await localAddressOf(provider.multiaddrs, provider.peerId, sameHost.directory)
    if (local === undefined) return undefined
    // A stale socket refuses at once; a provider that stopped answering is left after the bound.
    return node
      .dial(local, { signal: AbortSignal.timeout(sameHostDialTimeoutMs) })
      .catch(() => undefined)
  }

  /** An open connection to the peer, or one shared dial for all callers that need it now. */
  const connectionTo = (provider: Provider, reachMs: number): Promise<Connection> => {
    const existing = node.getConnections(provider.peerId).find((c) => c.status === "open")
    if (existing !== undefined) return Promise.resolve(existing)
    const key = provider.peerId.toString()
    const pending = dialing.get(key)
    if (pending !== undefined) return pending
    const dial = (async () => {
      const local = await dialLocal(provider)
      if (local !== undefined) return local
      // Unix addresses only through dialLocal: never one that cannot be told to be the provider's.
      const network = provider.multiaddrs.filter((a) => unixPathOf(a) === undefined)
      if (network.length > 0) {
        await node.peerStore.merge(provider.peerId, { multiaddrs: network })
      }
      return node.dial(provider.peerId, { signal: AbortSignal.timeout(reachMs) })
    })().finally(() => dialing.delete(key))
    dialing.set(key, dial)
    return dial
  }

  /**
   * Dials, in the background, the providers without a connection (at most `predialProviders`);
   * callers that need one meanwhile share the dial. Failures are left to the callers that follow.
   */
  const predial = (providers: ReadonlyArray<Provider>) => {
    if (providers.length < 2 || predialProviders === 0) return
    let started = 0
    for (const provider of providers) {
      if (started >= predialProviders) return
      const key = provider.peerId.toString()
      if (dialing.has(key) || selector.isCooling(key, Date.now())) continue
      if (node.getConnections(provider.peerId).some((c) => c.status === "open")) continue
      started++
      connectionTo(provider, dialTimeoutMs).catch(() => undefined)
    }
  }

  const stageError = (
    service: string,
    peerId: PeerId,
    stage: ProviderFailed["stage"],
    cause: unknown,
  ): ProviderFailed =>
    new ProviderFailed({
      service,
      peerId: peerId.toString(),
      stage,
      reason: cause instanceof Error ? cause.message : String(cause),
    })

  /** What an attempt threw, as the failure of its provider (a throw not foreseen: "handshake"). */
  const asProviderFailed = (service: string, provider: Provider, error: unknown) =>
    error instanceof ProviderFailed
      ? error
      : stageError(service, provider.peerId, "handshake", error)

  // Logs from the plain code below, with the layer's loggers; the failures an app can repeat at
  // will at most once per service (or provider) and kind every 10 s (logLimit.ts).
  const log = Effect.runForkWith(layerContext)
  const limited = makeLogLimiter((level, line) => log(logAt(level, line)))
  yield* Effect.addFinalizer(() => Effect.sync(() => limited.close()))

  // From here to `serve`, one connection's way to a provider is plain promises and callbacks, not
  // effects: it runs for every accepted connection, and a fiber's steps per stage cost more than
  // the stage's own work. `signal` is the connection's: aborted when its fiber is interrupted.

  /**
   * Request and status on an open stream, the caller's bytes sent right behind the request
   * (`early`); a refusal fails with stage "refused". A failure aborts the stream.
   */
  const handshake = (
    service: string,
    early: Early,
    provider: Provider,
    connection: Connection,
    stream: Stream,
    timeoutMs: number,
    signal: AbortSignal,
  ) =>
    new Promise<Opened>((resolve, reject) => {
      const peer = provider.peerId.toString()
      const segmented = stream.protocol === PROXY_PROTOCOL_REUSABLE
      let settled = false
      const settle = () => {
        settled = true
        signal.removeEventListener("abort", onAbort)
      }
      const failed = (error: ProviderFailed, why: string) => {
        settle()
        early.data.detach()
        stream.abort(new Error(why))
        reject(error)
      }
      const onAbort = () => {
        cancel()
        failed(stageError(service, provider.peerId, "handshake", signal.reason), "interrupted")
      }
      stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, readBuffer)
      try {
        early.data.attach(stream, early.request, segmented)
      } catch (cause) {
        // The stream cannot take the request (closed under us): the attempt fails like a
        // handshake that found it closed.
        return failed(
          stageError(service, provider.peerId, "handshake", cause),
          "proxy handshake failed",
        )
      }
      const cancel = readFrameWith(
        stream,
        decodeStatus,
        `status from ${peer}`,
        Math.max(1, timeoutMs),
        (outcome) => {
          if (outcome._tag === "Failed")
            return failed(
              stageError(service, provider.peerId, "handshake", outcome.error),
              "proxy handshake failed",
            )
          const status = outcome.read
          if (status.value.code !== StatusCode.Ok)
            return failed(
              new ProviderFailed({
                service,
                peerId: peer,
                stage: status.value.code === StatusCode.Denied ? "denied" : "refused",
                reason: `${statusName(status.value.code)}: ${status.value.reason}`,
              }),
              "refused",
            )
          settle()
          resolve({
            stream,
            connection,
            segmented,
            rest: status.rest,
            peer,
            label: provider.label ?? peer,
          })
        },
      )
      // The read may have ended at once (a stream that ended before it was used).
      if (settled) return
      if (signal.aborted) onAbort()
      else signal.addEventListener("abort", onAbort)
    })

  /**
   * One provider: connection (existing or dialled), stream (a ready one, else a new one),
   * request, status. One deadline for the whole attempt, enforced by abort signals and timers
   * rather than a racing fiber: this runs once per accepted connection. Reaching the provider
   * (the dial, then the stream, which needs its answer) has the short `dialTimeoutMs` each: a
   * silent peer (its host lost, or a connection that died without a reset) is given up quickly;
   * the provider's own connect to its app keeps the rest of the deadline. The `last` provider
   * tried has the whole deadline for these too: with no other provider left, a short bound only
   * turned a provider slow to answer (both sidecars starved of CPU on a loaded host) into a
   * reset of the caller's connection.
   */
  const attempt = async (
    service: string,
    early: Early,
    provider: Provider,
    last: boolean,
    signal: AbortSignal,
  ): Promise<Opened> => {
    const deadline = Date.now() + connectTimeoutMs
    const reachMs = last ? connectTimeoutMs : dialTimeoutMs
    let connection: Connection
    try {
      connection = await connectionTo(provider, reachMs)
      signal.throwIfAborted()
    } catch (cause) {
      throw stageError(service, provider.peerId, "dial", cause)
    }
    // The pool is topped up once this connection no longer waits on the provider (see
    // ReadyStreams.refill), whatever the provider answered.
    try {
      return await onConnection(service, early, provider, connection, deadline, reachMs, signal)
    } finally {
      ready.refill(provider.peerId.toString(), connection)
    }
  }

  /** The stream (a ready one, else a new one), request and status on a provider's connection. */
  const onConnection = async (
    service: string,
    early: Early,
    provider: Provider,
    connection: Connection,
    deadline: number,
    reachMs: number,
    signal: AbortSignal,
  ): Promise<Opened> => {
    const pooled = ready.take(provider.peerId.toString(), connection)
    if (pooled !== undefined) {
      // The answer on a ready stream is also the first sign that the provider is alive (a
      // new stream's is multistream-select's), so it gets the same short bound: a silent
      // provider is given up after two of them (this, then the new stream below).
      const timeoutMs = Math.min(reachMs, deadline - Date.now())
      try {
        return await handshake(service, early, provider, connection, pooled, timeoutMs, signal)
      } catch (error) {
        // A refusal is the provider's answer. A broken ready stream (closed by the provider's
        // handshake timeout just now) or a slow answer (its app slow to accept) says nothing
        // certain about the provider: use a new stream, with the rest of the deadline.
        const failure = asProviderFailed(service, provider, error)
        if (failure.stage === "refused" || failure.stage === "denied" || signal.aborted)
          throw failure
      }
    }
    let stream: Stream
    try {
      stream = await openStream(
        connection,
        AbortSignal.any([
          signal,
          AbortSignal.timeout(Math.max(1, Math.min(reachMs, deadline - Date.now()))),
        ]),
      )
    } catch (cause) {
      throw stageError(service, provider.peerId, "open-stream", cause)
    }
    return handshake(service, early, provider, connection, stream, deadline - Date.now(), signal)
  }

  /** The providers in turn until one accepts; what ends the connection otherwise. */
  const open = async (
    service: string,
    providers: ReadonlyArray<Provider>,
    early: Early,
    signal: AbortSignal,
  ): Promise<Opened | AllProvidersFailed | CallDenied> => {
    const ordered = selector
      .order(service, providers, (p) => p.peerId.toString(), Date.now())
      .slice(0, maxAttempts)
    const failures: ProviderFailed[] = []
    for (const [index, provider] of ordered.entries()) {
      const last = index === ordered.length - 1
      try {
        const opened = await attempt(service, early, provider, last, signal)
        selector.markHealthy(provider.peerId.toString())
        return opened
      } catch (error) {
        const failure = asProviderFailed(service, provider, error)
        // Interrupted: the connection's fiber is gone, and the provider did nothing wrong.
        if (signal.aborted) break
        // The provider is healthy; this caller may not use the service.
        if (failure.stage === "denied")
          return new CallDenied({ service, peerId: failure.peerId, reason: failure.reason })
        failures.push(failure)
        selector.markFailed(provider.peerId.toString(), Date.now())
        limited.log(
          `provider ${service} ${failure.peerId} ${failure.stage}`,
          "Warning",
          failure.message,
          (n, ms) =>
            `${service}: ${n} more attempts on provider ${failure.peerId} failed at ${failure.stage} in the last ${ms / 1000} s`,
        )
      }
    }
    return new AllProvidersFailed({ service, failures })
  }

  /** One accepted connection, its providers resolved: opened and bridged, or the error. */
  const connect = async (
    socket: net.Socket,
    upstream: UpstreamOptions,
    acceptedAt: number,
    providers: ReadonlyArray<Provider>,
    signal: AbortSignal,
  ): Promise<AllProvidersFailed | CallDenied | undefined> => {
    const target: ProxyTarget = upstream.target ?? { _tag: "Service", name: upstream.service }
    const early: Early = {
      request: encodeRequest(target),
      data: new EarlyData(socket, earlyDataBytes),
    }
    const opened = await open(upstream.service, providers, early, signal)
    if (!("stream" in opened)) return opened
    predial(providers)
    const series = metrics.traffic.of("outbound", upstream.service, opened.label)
    series.connected((monotonicMs() - acceptedAt) / 1000)
    // The bytes that went ahead of the status, counted as the bridge counts the rest.
    const ahead = early.data.release()
    counters.bytesOut += ahead
    series.bytesOut += ahead
    const bridge = startBridge(socket, opened.stream, {
      metrics,
      direction: "outbound",
      service: series,
      idleTimeoutMs,
      initial: opened.rest,
      segmented: opened.segmented,
      endSent: early.data.ended,
    })
    if (signal.aborted) bridge.abort()
    else signal.addEventListener("abort", bridge.abort, { once: true })
    const end = await bridge.done
    signal.removeEventListener("abort", bridge.abort)
    // Idle: the stream waits for this provider's next connection.
    if (end._tag === "Idle") ready.giveBack(opened.peer, opened.connection, opened.stream)
    if (end._tag === "Failed")
      log(
        Effect.logDebug(
          `connection to ${upstream.service} via ${opened.peer} ended: ${describeEnd(end)}`,
        ),
      )
    return undefined
  }

  const serve = (socket: net.Socket, upstream: UpstreamOptions, acceptedAt: number) =>
    resolver.resolve(upstream.service).pipe(
      Effect.flatMap(
        (providers): Effect.Effect<void, NoProviders | AllProvidersFailed | CallDenied> =>
          providers.length === 0
            ? Effect.fail(new NoProviders({ service: upstream.service }))
            : Effect.callback<void, AllProvidersFailed | CallDenied>((resume) => {
                const controller = new AbortController()
                connect(socket, upstream, acceptedAt, providers, controller.signal).then(
                  (failure) => resume(failure === undefined ? Effect.void : Effect.fail(failure)),
                  // Nothing above throws past its own handling; if it did, the connection ends.
                  (defect) => {
                    if (!socket.destroyed) socket.resetAndDestroy()
                    resume(Effect.die(defect))
                  },
                )
                return Effect.sync(() => controller.abort(new Error("proxy is shutting down")))
              }),
      ),
      Effect.catch((error: NoProviders | ResolveFailed | AllProvidersFailed | CallDenied) =>
        Effect.sync(() => {
          const series = metrics.traffic.of("outbound", upstream.service, "")
          if (error._tag === "CallDenied") {
            counters.refused++
            series.refused++
            metrics.denied("outbound", "policy")
          } else if (error._tag === "NoProviders") {
            counters.refused++
            series.refused++
          } else {
            counters.errors++
            series.errors++
          }
          // A reset tells the caller at once that nothing will answer.
          if (!socket.destroyed) socket.resetAndDestroy()
          limited.log(
            `upstream ${upstream.service} ${error._tag}`,
            "Error",
            `upstream ${upstream.service}: ${error.message}`,
            (n, ms) =>
              `upstream ${upstream.service}: ${n} more connections ended the same way (${error._tag}) in the last ${ms / 1000} s`,
          )
        }),
      ),
      Effect.onInterrupt(() => Effect.sync(() => socket.destroyed || socket.resetAndDestroy())),
    )

  const listen = Effect.fn("Outbound.listen")(function* (upstream: UpstreamOptions) {
    const host = upstream.host ?? "127.0.0.1"
    let run: ((effect: Effect.Effect<void>) => unknown) | undefined
    const onConnection = (socket: net.Socket) => {
      // Until the bridge owns it, an error on the socket must not crash the process.
      socket.on("error", () => {})
      const acceptedAt = monotonicMs()
      if (run === undefined || active >= maxStreams) {
        counters.refused++
        metrics.traffic.of("outbound", upstream.service, "").refused++
        socket.resetAndDestroy()
        return
      }
      active++
      run(serve(socket, upstream, acceptedAt).pipe(Effect.ensuring(Effect.sync(() => active--))))
    }
    // pauseOnConnect: the caller's bytes wait in the kernel until a stream is ready for them.
    const server = net.createServer(
      { allowHalfOpen: true, pauseOnConnect: true, noDelay: true },
      onConnection,
    )
    const port = yield* Effect.acquireRelease(
      listenTcp(server, host, upstream.port).pipe(
        Effect.mapError(
          (cause) =>
            new ListenFailed({ service: upstream.service, host, port: upstream.port, cause }),
        ),
      ),
      () => closeServer(server),
    )
    // Created after the server so that it is released first: closing the server waits for its
    // connections, which end when their fibers are interrupted.
    const scope = yield* Scope.Scope
    run = yield* FiberSet.makeRuntime<never>().pipe(
      Effect.provideContext(Context.add(layerContext, Scope.Scope, scope)),
    )
    return { service: upstream.service, host, port } satisfies UpstreamListener
  })

  return { listen, activeConnections: () => active }
})

const statusName = (code: StatusCode): string =>
  Object.entries(StatusCode).find(([, value]) => value === code)?.[0] ?? `status ${code}`
