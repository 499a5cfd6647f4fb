import type { Socket } from "node:net"
import type { Connection, Stream, StreamHandler } from "@libp2p/interface"
import { Context, Effect, FiberSet, Layer } from "effect"
import { defaults } from "./constants.js"
import { ProtocolRegistrationFailed, TargetConnectFailed } from "./Errors.js"
import { monotonicMs } from "./internal/clock.js"
import { FrameError, pauseStream, readFrameAsync } from "./internal/frames.js"
import { logAt, makeLogLimiter } from "./internal/logLimit.js"
import { describeEnd, startBridge } from "./internal/startBridge.js"
import { connectTcp } from "./internal/tcp.js"
import { Libp2pNode } from "./Libp2pNode.js"
import { ProxyMetrics } from "./Metrics.js"
import {
  decodeRequest,
  encodeStatus,
  PROXY_PROTOCOL,
  PROXY_PROTOCOL_REUSABLE,
  type ProxyTarget,
  StatusCode,
  targetToString,
} from "./Protocol.js"

/** A local TCP endpoint that peers may reach. */
export interface ExposedTarget {
  readonly host: string
  readonly port: number
}

/** Why the door refused a caller: `reason` is a short label (a metric label), `message` a sentence. */
export interface DoorDenial {
  readonly reason: string
  readonly message: string
}

/**
 * Who may open a stream to which exposed target. Called once per stream after its request names
 * an exposed target and before the target is connected, so it must be cheap: an implementation
 * caches its decisions (per peer and target) rather than verifying anything per stream.
 */
export interface Door {
  /**
   * `undefined` admits the caller; a denial refuses the stream with status `Denied`. A promise
   * when the answer is not known yet (the peer's membership still being verified); it must
   * settle within the door's own bound, and a rejection counts as a failed stream.
   */
  readonly check: (
    peer: string,
    target: ProxyTarget,
  ) => DoorDenial | undefined | Promise<DoorDenial | undefined>
}

export interface InboundOptions {
  /** Checks every caller (see {@link Door}); without one, every peer that connects is admitted. */
  readonly door?: Door
  /** Exposed services by name (what the registry advertises). */
  readonly services?: Readonly<Record<string, ExposedTarget>>
  /** Local ports peers may ask for by number, on `portHost`. */
  readonly ports?: ReadonlyArray<number>
  /** Host for `ports` (default 127.0.0.1). */
  readonly portHost?: string
  readonly connectTimeoutMs?: number
  readonly handshakeTimeoutMs?: number
  readonly idleTimeoutMs?: number
  /** Concurrent inbound streams; more are refused with status Overloaded. */
  readonly maxStreams?: number
  /** Concurrent inbound streams from one peer; more are refused with status Overloaded. */
  readonly maxStreamsPerPeer?: number
  readonly streamReadBufferBytes?: number
}

/**
 * The exposing side: handles `/beemesh/proxy/1.1.0` and `/beemesh/proxy/1.0.0` streams on the
 * node and pipes each connection they carry to the local TCP target its request names (on 1.1.0
 * one connection after another, on 1.0.0 one). Unknown targets are refused with a status.
 * Registered while the layer's scope is open; closing it unregisters the protocols and resets
 * open streams.
 */
export class Inbound extends Context.Service<
  Inbound,
  {
    /**
     * Streams currently being served: their request arrived (connecting to the target, or
     * bridged). Streams still waiting for a request (a caller's ready streams) are not counted:
     * nothing is in flight on them. All of them count against `maxStreams`.
     */
    readonly activeStreams: () => number
  }
>()("@beemesh/proxy/Inbound") {
  static layer(
    options: InboundOptions,
  ): Layer.Layer<Inbound, ProtocolRegistrationFailed, Libp2pNode | ProxyMetrics> {
    return Layer.effect(Inbound, make(options))
  }
}

const make = Effect.fnUntraced(function* (options: InboundOptions) {
  const node = yield* Libp2pNode
  const metrics = yield* ProxyMetrics
  const connectTimeoutMs = options.connectTimeoutMs ?? defaults.connectTimeoutMs
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? defaults.handshakeTimeoutMs
  const idleTimeoutMs = options.idleTimeoutMs ?? defaults.idleTimeoutMs
  const maxStreams = options.maxStreams ?? defaults.maxStreams
  const maxStreamsPerPeer = options.maxStreamsPerPeer ?? defaults.maxStreamsPerPeer
  const readBuffer = options.streamReadBufferBytes ?? defaults.streamReadBufferBytes
  const services = options.services ?? {}
  const ports = new Set(options.ports ?? [])
  const portHost = options.portHost ?? "127.0.0.1"
  const counters = metrics.inbound
  const door = options.door

  const lookup = (target: ProxyTarget): ExposedTarget | undefined => {
    if (target._tag === "Port")
      return ports.has(target.port) ? { host: portHost, port: target.port } : undefined
    return Object.hasOwn(services, target.name) ? services[target.name] : undefined
  }

  /**
   * Answers with a refusal and half-closes; the opener closes its side when it reads it. Refusals
   * of unknown targets count under service "": a peer must not create series by naming targets.
   */
  const refuse = (stream: Stream, code: StatusCode, reason: string, perService = true) => {
    counters.refused++
    if (perService) metrics.traffic.of("inbound", "", "").refused++
    if (stream.writeStatus !== "writable") return
    stream.send(encodeStatus({ code, reason }))
    stream.close().catch(() => stream.abort(new Error(reason)))
  }

  // Logs from the plain code below, with the layer's loggers; refusals and failures a peer can
  // repeat at will at most once per peer and kind every 10 s (logLimit.ts).
  const log = Effect.runForkWith(yield* Effect.context<never>())
  const limited = makeLogLimiter((level, line) => log(logAt(level, line)))
  yield* Effect.addFinalizer(() => Effect.sync(() => limited.close()))

  // A stream's connections are served by plain promises and callbacks, not effects: this runs for
  // every connection, and a fiber's steps per stage cost more than the stage's own work. `signal`
  // is the stream's: aborted when its fiber is interrupted.

  /**
   * The connections a stream carries: one on a raw stream; on a segmented one, each request after
   * the previous connection ended cleanly, until the opener closes the stream.
   */
  const serve = async (
    stream: Stream,
    connection: Connection,
    openedAt: number,
    onRequest: () => void,
    onFinished: () => void,
    signal: AbortSignal,
  ): Promise<void> => {
    const segmented = stream.protocol === PROXY_PROTOCOL_REUSABLE
    // A later request's setup time counts from its arrival, not from the wait before it.
    let since: number | undefined = openedAt
    for (;;) {
      const idle = await serveOne(stream, connection, since, segmented, onRequest, signal)
      onFinished()
      if (!idle || signal.aborted) return
      since = undefined
    }
  }

  /**
   * One connection on the stream; true if it ended with the stream idle for the next one. Its
   * setup time counts from `openedAt`, or from its request's arrival without one.
   */
  const serveOne = async (
    stream: Stream,
    connection: Connection,
    openedAt: number | undefined,
    segmented: boolean,
    onRequest: () => void,
    signal: AbortSignal,
  ): Promise<boolean> => {
    const peer = connection.remotePeer.toString()
    const request = await readFrameAsync(
      stream,
      decodeRequest,
      `request from ${peer}`,
      handshakeTimeoutMs,
      signal,
    )
    const startedAt = openedAt ?? monotonicMs()
    onRequest()
    const target = lookup(request.value)
    const name = targetToString(request.value)
    if (target === undefined) {
      refuse(stream, StatusCode.UnknownTarget, `${name} is not exposed here`)
      limited.log(
        `refused ${peer}`,
        "Warning",
        `refused stream from ${peer}: ${name} is not exposed`,
        (n, ms) => `refused ${n} more streams from ${peer} in the last ${ms / 1000} s: not exposed`,
      )
      return false
    }
    const verdict = door?.check(peer, request.value)
    let denial: DoorDenial | undefined
    try {
      denial = verdict instanceof Promise ? await verdict : verdict
    } catch (cause) {
      throw new Error(`the door failed on a stream from ${peer}: ${String(cause)}`)
    }
    signal.throwIfAborted()
    if (denial !== undefined) {
      metrics.denied("inbound", denial.reason)
      metrics.traffic.of("inbound", seriesName(request.value), "").refused++
      refuse(stream, StatusCode.Denied, denial.message, false)
      limited.log(
        `denied ${peer}`,
        "Warning",
        `denied stream from ${peer} to ${name}: ${denial.message}`,
        (n, ms) => `denied ${n} more streams from ${peer} in the last ${ms / 1000} s`,
      )
      return false
    }
    const series = metrics.traffic.of("inbound", seriesName(request.value), "")
    let socket: Socket
    try {
      socket = await connectTcp(target.host, target.port, connectTimeoutMs, signal)
    } catch (cause) {
      if (signal.aborted) throw cause
      const error = new TargetConnectFailed({ target: name, ...target, cause })
      counters.errors++
      // An error of this service's series, not a refusal of an unknown target.
      series.errors++
      refuse(stream, StatusCode.TargetUnreachable, error.message, false)
      throw error
    }
    if (signal.aborted || stream.writeStatus !== "writable") {
      socket.destroy()
      signal.throwIfAborted()
      throw new Error(`stream from ${peer} closed during the handshake`)
    }
    stream.send(encodeStatus({ code: StatusCode.Ok, reason: "" }))
    series.connected((monotonicMs() - startedAt) / 1000)
    const bridge = startBridge(socket, stream, {
      metrics,
      direction: "inbound",
      service: series,
      idleTimeoutMs,
      initial: request.rest,
      segmented,
    })
    signal.addEventListener("abort", bridge.abort, { once: true })
    const end = await bridge.done
    signal.removeEventListener("abort", bridge.abort)
    if (end._tag === "Failed")
      log(Effect.logDebug(`stream from ${peer} to ${name} ended: ${describeEnd(end)}`))
    return end._tag === "Idle"
  }

  const run = yield* FiberSet.makeRuntime<never>()
  let streams = 0
  let active = 0
  // Every open stream counts against its peer's limit, ready (not yet requested) ones too: a
  // flood of idle streams is what the limit is for.
  const streamsByPeer = new Map<string, number>()
  const release = (peer: string) => {
    const left = (streamsByPeer.get(peer) ?? 1) - 1
    if (left === 0) streamsByPeer.delete(peer)
    else streamsByPeer.set(peer, left)
  }

  const handler: StreamHandler = (stream, connection) => {
    const openedAt = monotonicMs()
    // Unread data counts against the read buffer from the first byte: stop reading until the
    // request frame is read, and allow a paused stream one full yamux window.
    pauseStream(stream)
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, readBuffer)
    if (streams >= maxStreams) {
      refuse(stream, StatusCode.Overloaded, `limit of ${maxStreams} concurrent streams reached`)
      return
    }
    const peer = connection.remotePeer.toString()
    const fromPeer = streamsByPeer.get(peer) ?? 0
    if (fromPeer >= maxStreamsPerPeer) {
      refuse(
        stream,
        StatusCode.Overloaded,
        `limit of ${maxStreamsPerPeer} concurrent streams from one peer reached`,
      )
      return
    }
    streamsByPeer.set(peer, fromPeer + 1)
    streams++
    let requested = false
    const onRequest = () => {
      requested = true
      active++
    }
    const onFinished = () => {
      if (requested) active--
      requested = false
    }
    const served = Effect.callback<void, Error>((resume) => {
      const controller = new AbortController()
      serve(stream, connection, openedAt, onRequest, onFinished, controller.signal).then(
        () => resume(Effect.void),
        (error: unknown) =>
          resume(Effect.fail(error instanceof Error ? error : new Error(String(error)))),
      )
      return Effect.sync(() => controller.abort(new Error("proxy is shutting down")))
    })
    run(
      served.pipe(
        Effect.catch((error) =>
          error instanceof FrameError && error.unused
            ? // An opener's ready stream closed unused (see OutboundOptions.readyStreams).
              Effect.sync(() => {
                stream.close().catch(() => stream.abort(error))
              }).pipe(Effect.andThen(Effect.logDebug(`inbound stream unused: ${error.message}`)))
            : Effect.sync(() => {
                if (stream.status === "open") stream.abort(error)
                limited.log(
                  `failed ${peer}`,
                  "Error",
                  `inbound stream from ${peer} failed: ${error.message}`,
                  (n, ms) =>
                    `${n} more inbound streams from ${peer} failed in the last ${ms / 1000} s`,
                )
              }),
        ),
        Effect.ensuring(
          Effect.sync(() => {
            streams--
            // A request still in progress (interrupted) is no longer active; `onFinished` counts
            // it once, also when the plain chain finishes that connection later.
            onFinished()
          }),
        ),
        Effect.ensuring(Effect.sync(() => release(peer))),
      ),
    )
  }

  const protocols = [PROXY_PROTOCOL_REUSABLE, PROXY_PROTOCOL]
  yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () =>
        node.handle(protocols, handler, {
          // libp2p's defaults (32 in, 64 out per connection) are far below one pod pair's load.
          maxInboundStreams: maxStreams + 1,
          maxOutboundStreams: maxStreams + 1,
        }),
      catch: (cause) => new ProtocolRegistrationFailed({ protocol: protocols.join(", "), cause }),
    }),
    () => Effect.promise(() => node.unhandle(protocols).catch(() => {})),
  )

  return { activeStreams: () => active }
})

/** A target's name in per-service traffic: the service, or `port:<n>` for a port request. */
const seriesName = (target: ProxyTarget): string =>
  target._tag === "Service" ? target.name : `port:${target.port}`
