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
 * allowed in NODE_OPTIONS (`--optimize-for-size`, for one, is not).
 */
export const AGENT_NODE_OPTIONS: ReadonlyArray<string> = ["--max-semi-space-size=1"]
