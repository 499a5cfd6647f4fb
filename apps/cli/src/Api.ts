/**
 * The parts of the agent's JSON answers the CLI reads. The agent keeps more fields (and other
 * work adds some, such as rollout events); unknown fields are passed through to `-o json|yaml`.
 */
export interface ReplicaStatus {
  readonly name: string
  readonly pod: string
  readonly phase: string
  readonly hostPort?: number | undefined
  readonly restarts: number
  readonly message?: string | undefined
  /** How a container of the replica last exited (exit code, the tail of its output). */
  readonly lastTermination?: {
    readonly container: string
    readonly exitCode: number
    readonly at: string
    readonly logTail: ReadonlyArray<string>
  }
  /** When a replica in CrashLoopBackOff is restarted. */
  readonly restartAt?: string
  /** The replica's recent events (created, started, exited, back-off, restarted …). */
  readonly events?: ReadonlyArray<Record<string, unknown>>
}

export interface WorkloadStatus {
  readonly namespace: string
  readonly name: string
  readonly kind: string
  readonly replicas: number
  readonly ready: number
  /** Replicas running the current revision (an agent that rolls updates reports it). */
  readonly updated?: number | undefined
  readonly conditions?:
    | ReadonlyArray<{
        readonly type: string
        readonly status: string
        readonly reason: string
        readonly message: string
      }>
    | undefined
  readonly services: ReadonlyArray<{ readonly name: string; readonly port: number }>
  readonly pods: ReadonlyArray<ReplicaStatus>
  /** Recent events, when the agent reports them. */
  readonly events?: ReadonlyArray<Record<string, unknown>>
}

export interface Provider {
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly pod: string
  readonly workload: string
}

export interface ServiceView {
  readonly namespace: string
  readonly name: string
  readonly offeredBy: ReadonlyArray<{ readonly workload: string; readonly port: number }>
  readonly providers: ReadonlyArray<Provider>
  readonly error?: string
}

export interface PeersView {
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly dhtRoutingTableSize: number
  readonly connections: ReadonlyArray<{
    readonly peerId: string
    readonly address: string
    readonly direction: string
    readonly openedAt: number
  }>
}

/** One series of `GET /v1/traffic` (the agent's ServiceTraffic). */
export interface TrafficSeries {
  readonly namespace: string
  readonly service: string
  readonly caller: string
  readonly callee: string
  readonly reporter: "caller" | "provider"
  readonly connections: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly errors: number
  readonly refused: number
  readonly setupBuckets: ReadonlyArray<number>
  readonly setupSumSeconds: number
}

export interface TrafficView {
  readonly setupBucketsSeconds: ReadonlyArray<number>
  readonly series: ReadonlyArray<TrafficSeries>
}

export const workloadPath = (namespace: string, name: string) =>
  `/v1/workloads/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`
