import type { Socket } from "node:net"
import type { Stream } from "@libp2p/interface"
import type { MetricsRegistry } from "../Metrics.js"
import type { ServiceCounters } from "../Traffic.js"
import { Bridge, type BridgeEnd } from "./bridge.js"

export interface StartBridgeOptions {
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
 * Starts a {@link Bridge}; `done` resolves once both sides are finished, and `abort` resets both.
 * Keeps the stream gauges and the buffered-bytes gauge up to date.
 */
export const startBridge = (
  socket: Socket,
  stream: Stream,
  options: StartBridgeOptions,
): { readonly done: Promise<BridgeEnd>; readonly abort: () => void } => {
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
  const done = bridge.done.then((end) => {
    options.metrics.untrack(bridge)
    counters.streamsOpen--
    if (end._tag === "Failed") {
      counters.errors++
      options.service.errors++
    }
    return end
  })
  return { done, abort: () => bridge.abort(new Error("proxy is shutting down")) }
}

/** A human-readable line for a bridge that did not finish cleanly. */
export const describeEnd = (end: BridgeEnd): string =>
  end._tag === "Failed" ? `${end.reason}: ${end.error.message}` : "closed"
