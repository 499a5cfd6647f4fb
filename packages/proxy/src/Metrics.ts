import { Context, Effect, Layer } from "effect"
import { type ServiceTrafficSnapshot, TrafficTable } from "./Traffic.js"

/** Counters for one direction. Bytes are counted at the libp2p stream. */
export interface DirectionSnapshot {
  /** Bytes received from libp2p streams (and written to local sockets). */
  readonly bytesIn: number
  /** Bytes read from local sockets (and sent on libp2p streams). */
  readonly bytesOut: number
  /**
   * Connections bridged (their request admitted, the target connected) since start: one per
   * stream on 1.0.0, one after another on a stream on 1.1.0.
   */
  readonly streamsOpened: number
  /** Connections being bridged now. */
  readonly streamsOpen: number
  /** Connections refused before a stream was bridged (unknown target, limit, no provider …). */
  readonly refused: number
  /** Failures: dial/handshake/connect errors, resets, idle timeouts. */
  readonly errors: number
}

/** A plain, JSON-serialisable view of the proxy's counters, for a Prometheus exporter. */
export interface ProxyMetricsSnapshot {
  /** Streams opened by peers towards exposed targets. */
  readonly inbound: DirectionSnapshot
  /** Streams opened by upstream listeners towards providers. */
  readonly outbound: DirectionSnapshot
  /**
   * Bytes currently held in the proxy's own buffers: libp2p stream read/write buffers and local
   * socket buffers of every open bridge. Bounded per stream by the yamux window plus the socket's
   * high-water mark when one side is slow.
   */
  readonly bufferedBytes: number
  /** Per service and peer: connections, bytes, errors, refusals, setup time (see Traffic). */
  readonly services: ReadonlyArray<ServiceTrafficSnapshot>
  /**
   * Streams refused by the door (inbound: this side refused a caller, by the door's reason) or
   * by a provider's door (outbound: by the reason the provider sent, `policy`). Also counted in
   * `refused`.
   */
  readonly denied: Readonly<Record<Direction, Readonly<Record<string, number>>>>
}

interface MutableDirection {
  bytesIn: number
  bytesOut: number
  streamsOpened: number
  streamsOpen: number
  refused: number
  errors: number
}

const emptyDirection = (): MutableDirection => ({
  bytesIn: 0,
  bytesOut: 0,
  streamsOpened: 0,
  streamsOpen: 0,
  refused: 0,
  errors: 0,
})

export type Direction = "inbound" | "outbound"

/** Something that holds bytes in memory while it bridges (an open bridge). */
export interface BufferHolder {
  readonly bufferedBytes: () => number
}

/**
 * The proxy's counters. Inbound and Outbound update them on their hot paths (plain field
 * increments, no allocation); `snapshot()` reads them.
 */
export class MetricsRegistry {
  readonly inbound: MutableDirection = emptyDirection()
  readonly outbound: MutableDirection = emptyDirection()
  readonly traffic = new TrafficTable()
  private readonly denials = {
    inbound: new Map<string, number>(),
    outbound: new Map<string, number>(),
  }
  private readonly holders = new Set<BufferHolder>()

  track(holder: BufferHolder): void {
    this.holders.add(holder)
  }

  untrack(holder: BufferHolder): void {
    this.holders.delete(holder)
  }

  /** Counts a denial by the door (a few fixed reasons, so the series stay few). */
  denied(direction: Direction, reason: string): void {
    const counts = this.denials[direction]
    counts.set(reason, (counts.get(reason) ?? 0) + 1)
  }

  snapshot(): ProxyMetricsSnapshot {
    let bufferedBytes = 0
    for (const holder of this.holders) bufferedBytes += holder.bufferedBytes()
    return {
      inbound: { ...this.inbound },
      outbound: { ...this.outbound },
      bufferedBytes,
      services: this.traffic.snapshot(),
      denied: {
        inbound: Object.fromEntries(this.denials.inbound),
        outbound: Object.fromEntries(this.denials.outbound),
      },
    }
  }
}

/** Shared by Inbound and Outbound so one snapshot covers both. */
export class ProxyMetrics extends Context.Service<ProxyMetrics, MetricsRegistry>()(
  "@beemesh/proxy/ProxyMetrics",
) {
  static readonly layer: Layer.Layer<ProxyMetrics> = Layer.effect(
    ProxyMetrics,
    Effect.sync(() => new MetricsRegistry()),
  )
}
