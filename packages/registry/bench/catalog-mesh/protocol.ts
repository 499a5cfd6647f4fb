/**
 * Messages between the catalog-mesh bench's coordinator and its node processes (Node's IPC
 * channel of a forked child, JSON). Times are the shared clock below, in ms.
 */

/**
 * The clock every process reports against: the wall clock at process start plus the monotonic
 * time since, so it has sub-millisecond resolution and reads the same in every process of this
 * machine (all take their origin from one system clock).
 */
export const sharedClock = () => performance.timeOrigin + performance.now()

/** What a node process is started with (its first message). */
export interface NodeConfig {
  readonly index: number
  /** The agent's identity key, protobuf-encoded, base64. */
  readonly privateKey: string
  /** Its agent certificate from the mesh authority. */
  readonly certificate: string
  readonly authority: string
  /** The mesh key (pnet), 64 hex digits. */
  readonly meshKey: string
  readonly bootstrap: ReadonlyArray<string>
  readonly listen: ReadonlyArray<string>
  /**
   * How long a new peer has to prove membership; default the agent's (@beemesh/p2p's 5 s). A
   * longer bound keeps starved processes of an overloaded machine from dropping each other.
   */
  readonly membershipTimeoutMs?: number
}

export type ToNode =
  | { readonly type: "config"; readonly config: NodeConfig }
  | { readonly type: "register"; readonly id: number; readonly service: string }
  | { readonly type: "resolve"; readonly id: number; readonly service: string }
  | { readonly type: "status"; readonly id: number }
  | { readonly type: "stop" }

export interface NodeStatus {
  readonly routingTable: number
  readonly connections: number
  /** Peers gossipsub knows on the catalog topic / in its mesh of that topic. */
  readonly topicPeers: number
  readonly meshPeers: number
  readonly entries: number
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** process.cpuUsage() since start, µs. */
  readonly cpuMicros: number
  /**
   * Event-loop delay since the last status (ms): how long ready work waited for this process to
   * run, i.e. how starved of CPU it was.
   */
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
}

export type FromNode =
  | {
      readonly type: "ready"
      readonly index: number
      readonly peerId: string
      readonly addresses: ReadonlyArray<string>
      /** When the libp2p node had started (before its bootstrap and join finished). */
      readonly startedAt: number
    }
  /** A record was stored in this node's catalog (from gossip, sync or its own register). */
  | { readonly type: "stored"; readonly service: string; readonly at: number }
  | {
      readonly type: "registered"
      readonly id: number
      /** Just before register() was called / when it returned. */
      readonly calledAt: number
      readonly returnedAt: number
    }
  | {
      readonly type: "resolved"
      readonly id: number
      readonly catalogMs: number
      readonly catalogFound: number
      readonly dhtMs: number
      readonly dhtFound: number
    }
  | { readonly type: "status"; readonly id: number; readonly status: NodeStatus }
  | { readonly type: "failed"; readonly id: number | undefined; readonly message: string }
