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
 *
 * `--max-opt=2`: V8's optimizing tiers stop at Maglev; TurboFan never runs. TurboFan's compiler
 * is about 5 MiB of the node binary's code, mapped into the process the first time a function
 * gets hot and resident from then on: RSS idle 81.8 → 76.9 MiB, with 50 pods 97.9 / 96.0 → 90.1
 * / 88.5 MiB. The agent's CPU at rest with 50 pods did not change (10.8 / 12.3 against 11.8 /
 * 11.0 millicores, builds alternating), nor the creation or teardown of 50 pods. Its price: a
 * single deploy's POST is answered 15–30 ms later (p50 349 / 359 → 375 / 378 / 379 ms in
 * bench:deploy, same build with and without), its first answer 20–55 ms later (555 / 570 → 589 /
 * 590 / 612 ms): the agent's JavaScript per request (Effect's runtime, schema decoding) runs
 * in Maglev's code. An operator who prefers that time gives `--max-opt=999` (kept, as any
 * value given). The sidecar, whose data plane is JavaScript, keeps TurboFan.
 */
export const AGENT_V8_FLAGS: ReadonlyArray<string> = ["--optimize-for-size", "--max-opt=2"]
