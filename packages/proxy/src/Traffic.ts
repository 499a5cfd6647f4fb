/**
 * Per-service traffic: for each (direction, service, peer) the connections, bytes each way,
 * errors, refusals and a histogram of connection-setup time. `peer` is what the caller knows of
 * the other side: for outbound connections the provider's label (its workload when the Resolver
 * gives one, else its peer id); inbound connections have no peer ("") because the acceptor
 * cannot tell which workload a calling sidecar belongs to, and one series per calling peer would
 * grow without bound.
 */

/**
 * Upper bounds (seconds) of the setup-time histogram buckets; a last, unbounded bucket follows.
 * From a stream on an existing connection (~1.5 ms) to a cold dial with retries (seconds).
 */
export const SETUP_BUCKETS_SECONDS: ReadonlyArray<number> = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** Distinct series kept; further ones are counted in the overflow series (service ""). */
export const MAX_TRAFFIC_SERIES = 512

export interface SetupHistogram {
  /** Count per bucket (not cumulative): one per bound of SETUP_BUCKETS_SECONDS, then +Inf. */
  readonly buckets: ReadonlyArray<number>
  readonly sumSeconds: number
  readonly count: number
}

export interface ServiceTrafficSnapshot {
  readonly direction: "inbound" | "outbound"
  readonly service: string
  readonly peer: string
  /** Connections bridged (the handshake succeeded). */
  readonly connections: number
  /** Bytes sent on libp2p streams (read from the local socket). */
  readonly bytesSent: number
  /** Bytes received from libp2p streams (written to the local socket). */
  readonly bytesReceived: number
  readonly errors: number
  readonly refused: number
  readonly setup: SetupHistogram
}

/** One series, mutated in place on the hot path. Also a bridge's byte counter target. */
export class ServiceCounters {
  connections = 0
  bytesIn = 0
  bytesOut = 0
  errors = 0
  refused = 0
  setupSum = 0
  readonly buckets: Array<number> = new Array(SETUP_BUCKETS_SECONDS.length + 1).fill(0)

  constructor(
    readonly direction: "inbound" | "outbound",
    readonly service: string,
    readonly peer: string,
  ) {}

  /** A bridged connection whose setup took `seconds`. */
  connected(seconds: number): void {
    this.connections++
    this.setupSum += seconds
    let i = 0
    while (i < SETUP_BUCKETS_SECONDS.length && seconds > SETUP_BUCKETS_SECONDS[i]!) i++
    this.buckets[i]!++
  }

  snapshot(): ServiceTrafficSnapshot {
    return {
      direction: this.direction,
      service: this.service,
      peer: this.peer,
      connections: this.connections,
      bytesSent: this.bytesOut,
      bytesReceived: this.bytesIn,
      errors: this.errors,
      refused: this.refused,
      setup: {
        buckets: [...this.buckets],
        sumSeconds: this.setupSum,
        count: this.connections,
      },
    }
  }
}

/** The series by key; bounded by MAX_TRAFFIC_SERIES. */
export class TrafficTable {
  private readonly series = new Map<string, ServiceCounters>()

  of(direction: "inbound" | "outbound", service: string, peer: string): ServiceCounters {
    const key = `${direction}\u0000${service}\u0000${peer}`
    const found = this.series.get(key)
    if (found !== undefined) return found
    const full = this.series.size >= MAX_TRAFFIC_SERIES && (service !== "" || peer !== "")
    if (full) return this.of(direction, "", "")
    const created = new ServiceCounters(direction, service, peer)
    this.series.set(key, created)
    return created
  }

  snapshot(): ReadonlyArray<ServiceTrafficSnapshot> {
    return [...this.series.values()].map((s) => s.snapshot())
  }
}
