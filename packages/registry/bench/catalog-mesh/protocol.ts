/**
 * Messages between the catalog-mesh bench's coordinator and its node processes (Node's IPC
 * channel of a forked child, JSON). A process hosts one node or several (`--nodes-per-process`);
 * messages for a node name it by its index. Times are the shared clock below, in ms.
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
  /** Starts a node in this process (one process may host several). */
  | { readonly type: "config"; readonly config: NodeConfig }
  | {
      readonly type: "register"
      readonly id: number
      readonly node: number
      readonly service: string
    }
  | {
      readonly type: "resolve"
      readonly id: number
      readonly node: number
      readonly service: string
    }
  /** The process's status and that of every node it hosts. */
  | { readonly type: "status"; readonly id: number }
  /**
   * Starts or stops the process's event-loop delay monitor (off from the start: its timer wakes
   * the process 20 times a second, which costs an idle agent-sized process about a millisecond
   * of CPU a second and would count in the idle window; see node.ts).
   */
  | { readonly type: "loop-monitor"; readonly enable: boolean }
  /** Stops every node of the process, then the process. */
  | { readonly type: "stop" }

/** One node's view of the mesh. */
export interface NodeStatus {
  readonly index: number
  readonly routingTable: number
  readonly connections: number
  /** Connections opened since the node started (either way): how much the mesh still churns. */
  readonly connectionsOpened: number
  /** Peers gossipsub knows on the catalog topic / in its mesh of that topic. */
  readonly topicPeers: number
  readonly meshPeers: number
  readonly entries: number
}

/** The process's costs, shared by the nodes it hosts. */
export interface ProcessStatus {
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** process.cpuUsage() since start, µs. */
  readonly cpuMicros: number
  /**
   * Event-loop delay since the last status while the monitor was on (ms; NaN when it was off):
   * how long ready work waited for this process to run, i.e. how starved of CPU it was.
   */
  readonly loopDelayP99Ms: number
  readonly loopDelayMaxMs: number
  readonly nodes: ReadonlyArray<NodeStatus>
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
  | {
      readonly type: "stored"
      readonly node: number
      readonly service: string
      readonly at: number
    }
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
  | { readonly type: "status"; readonly id: number; readonly status: ProcessStatus }
  /** A request failed; a node that failed to start has no request id, only its index. */
  | {
      readonly type: "failed"
      readonly id: number | undefined
      readonly node?: number
      readonly message: string
    }
