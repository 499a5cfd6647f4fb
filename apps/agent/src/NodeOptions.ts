/**
 * The V8 options the agent process runs with, wherever it is started: the systemd unit (its
 * `NODE_OPTIONS`, checked against this list by a unit test), `tooling/run agent`, the demo and the
 * test harnesses. Node cannot take them from inside a running process: the heap is sized when
 * the process starts.
 *
 * A 1 MiB semi-space instead of V8's default (up to 8 MiB each, 16 MiB for the young generation):
 * the agent's young objects are small and short-lived (API requests, lease renewals, DHT
 * messages), so a small young generation costs a few more, shorter scavenges and keeps ~6 MiB
 * less resident (measured idle: RSS 130 → 125 MiB, private 76 → 71 MiB). Every entry must be
 * allowed in NODE_OPTIONS; the launcher (launch.ts) adds any that a start left out.
 */
export const AGENT_NODE_OPTIONS: ReadonlyArray<string> = ["--max-semi-space-size=1"]

/**
 * V8 options NODE_OPTIONS refuses, which the launcher (launch.ts) adds to the agent's process
 * however it was started, unless given (with any value, or negated).
 *
 * `--optimize-for-size`: V8 trades some speed for memory (smaller heap growth steps, less eager
 * optimization): measured 3 MiB less private memory idle and with 20 pods, and 4 MiB less V8 heap
 * with 20 pods; the agent's work is I/O, not computation.
 */
export const AGENT_V8_FLAGS: ReadonlyArray<string> = ["--optimize-for-size"]
