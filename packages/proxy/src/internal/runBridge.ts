import type { Socket } from "node:net"
import type { Stream } from "@libp2p/interface"
import { Effect } from "effect"
import type { MetricsRegistry } from "../Metrics.js"
import type { ServiceCounters } from "../Traffic.js"
import { Bridge, type BridgeEnd } from "./bridge.js"

export interface RunBridgeOptions {
  readonly metrics: MetricsRegistry
  readonly direction: "inbound" | "outbound"
  /** The connection's per-service series: bytes and errors are counted there too. */
  readonly service: ServiceCounters
  readonly idleTimeoutMs: number
  readonly initial: Uint8Array | undefined
  /** See BridgeOptions. */
  readonly segmented?: boolean | undefined
  readonly endSent?: boolean | undefined
}

/**
 * Runs a {@link Bridge} as an effect that completes when both sides are finished. Interruption
 * resets both sides. Keeps the stream gauges and the buffered-bytes gauge up to date.
 */
export const runBridge = (
  socket: Socket,
  stream: Stream,
  options: RunBridgeOptions,
): Effect.Effect<BridgeEnd> =>
  Effect.callback<BridgeEnd>((resume) => {
    const counters = options.metrics[options.direction]
    counters.streamsOpened++
    counters.streamsOpen++
    const bridge = new Bridge(socket, stream, {
      idleTimeoutMs: options.idleTimeoutMs,
      counters,
      service: options.service,
      initial: options.initial,
      segmented: options.segmented,
      endSent: options.endSent,
    })
    options.metrics.track(bridge)
    bridge.done.then((end) => {
      options.metrics.untrack(bridge)
      counters.streamsOpen--
      if (end._tag === "Failed") {
        counters.errors++
        options.service.errors++
      }
      resume(Effect.succeed(end))
    })
    return Effect.sync(() => bridge.abort(new Error("proxy is shutting down")))
  })

/** A human-readable line for a bridge that did not finish cleanly. */
export const describeEnd = (end: BridgeEnd): string =>
  end._tag === "Failed" ? `${end.reason}: ${end.error.message}` : "closed"
