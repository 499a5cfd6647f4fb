/**
 * V8's heap limits for a proxy, set at run time once the sidecar has started: external memory
 * counted in the heap's limit, and a lower growing factor for that limit, raised while the proxy
 * carries bulk traffic (`BULK_HEAP_GROWING_PERCENT`), with V8's memory-saver mode while many
 * connections are open (`MEMORY_SAVER_STREAMS`); HeapGrowthRunner.ts sets those two.
 *
 * `--external-memory-accounted-in-global-limit` (why: `proxyNodeFlags` in @beemesh/proxy): the
 * socket, Noise and yamux buffers every bridged byte passes through are memory outside V8's heap,
 * which otherwise starts a full collection every 64 MiB of it. It was on the image's command line
 * until it showed a second effect there: a node started with it (as with most V8 flags) refuses
 * the code cache of Node's own modules built into the binary, whose flag check it fails, and
 * compiles `node:crypto`, `node:https` and the rest from source at every start: 40–60 ms of the
 * 180 ms of CPU a sidecar took from its start to its registration. Set here, once Node's modules
 * are loaded, it is in force from V8's next full collection on (V8 recomputes its limits there):
 * the heap compaction a few seconds after start is one (HeapCompaction.ts), and so is the first
 * full collection that bridged traffic would cause before that.
 *
 * `--heap-growing-percent=50`: after each full collection V8 sets the next limit (of heap and
 * external memory together) at up to 4× what survived when allocation is fast. Under 100 busy
 * connections a sidecar's live data is small, but the garbage between full collections (promoted
 * by the 1 MiB young generation: socket and Noise buffers, stream objects) grew to that limit:
 * private memory peaked at 80–99 MiB. With a factor of 1.5 the peak was 44–48 MiB, bulk CPU per
 * MiB and new connections per second within the run-to-run noise (measured interleaved, README
 * Footprint); 1.2 cut little more and cost bulk traffic about a quarter more CPU per MiB.
 *
 * At run time, not on the command line: V8 flags there are part of the compile cache's check
 * (image/compileCache.ts), and V8 reads these at every limit it computes. After start, not at
 * load: the cache is written by running the bundle until it exits on its missing environment,
 * and a flag changed before that would be counted in the written cache's flag hash.
 */
export const HEAP_GROWING_PERCENT = 50

/**
 * The growing factor while the sidecar carries bulk traffic: 2 instead of 1.5.
 *
 * Why: the factor of 1.5 sizes the next limit on what survived the last full collection, and a
 * sidecar streaming bulk data has its buffers in flight for a few milliseconds each, long enough
 * for the 1 MiB young generation to promote them, so they die in the old generation and only a
 * full collection frees them. When such a collection happens to run with little in flight, the
 * next limit leaves a few MiB of room, the next promoted buffers fill it, and the sidecar collects
 * fully 20–25 times a second, each time freeing buffers and nothing of its heap. Measured with
 * iperf3 through two sidecars on the host over the same-host path (unix socket; the receiving
 * side's reads wait on the sender more often than over TCP): the receiving sidecar spent 43 % of
 * its main thread in the collector, 6–7 ms of CPU per MiB, 140–190 MiB/s; with a factor of 2,
 * 1.8–2.2 ms per MiB and 300–370 MiB/s (the TCP path: 2.0–2.6 ms per MiB either way). Between
 * pods (`bench:dataplane`, the same-host path) 82–96 → 157–201 MiB/s. But under 100 busy
 * connections the factor of 2 lets the garbage between full collections grow too: private memory
 * peaked at 46–50 MiB instead of 36–40. Hence both, by what the proxy carries: `nextGrowthState`.
 */
export const BULK_HEAP_GROWING_PERCENT = 100

/** The growing-factor flag for the regime. */
export const growingPercentFlag = (bulk: boolean): string =>
  `--heap-growing-percent=${bulk ? BULK_HEAP_GROWING_PERCENT : HEAP_GROWING_PERCENT}`

/**
 * Open connections (bridged streams, both directions) from which V8's memory-saver mode is on,
 * unless the proxy carries bulk traffic.
 *
 * `--memory-saver-mode`: V8 then grows the heap's limit "conservatively" after each full
 * collection (a factor of at most 1.3, a minimum step of 2 MB instead of 8 MB). Under 100 busy
 * connections what survives a collection (heap and external memory) is 20–25 MiB, so the 8 MB
 * step rather than the factor set the limit that the garbage promoted between full collections
 * grew to. Measured (`pnpm bench`, three alternating pairs each, caller / provider): private peak
 * under 100 connections 36.4 / 38.5, 37.6 / 38.1, 38.3 / 38.3 MiB against 39.3 / 39.9, 40.4 /
 * 40.2, 40.8 / 39.7 without; CPU per 1 KiB round trip 131, 166, 121 µs against 166, 129, 118.
 * V8 describes the mode as trading CPU for memory, and one connection has little memory to save:
 * with one connection at a time (`bench:hops`) a first pair of runs showed 20–25 % more CPU per
 * request with the mode on, five later alternating pairs nothing beyond the machine's drift. So
 * only with many connections open; 32 is above the 20 concurrent clients of the agent's
 * `bench:dataplane`. Off in bulk, where the factor of 2 is the point (BULK_HEAP_GROWING_PERCENT).
 */
export const MEMORY_SAVER_STREAMS = 32

/** V8's memory-saver mode is on for the regime (see MEMORY_SAVER_STREAMS). */
export const memorySaver = (bulk: boolean, streamsOpen: number): boolean =>
  !bulk && streamsOpen >= MEMORY_SAVER_STREAMS

/** The memory-saver flag for the mode. */
export const memorySaverFlag = (on: boolean): string =>
  on ? "--memory-saver-mode" : "--no-memory-saver-mode"

/** The flags `limitHeapGrowth` sets, in the order it sets them. */
export const RUNTIME_V8_FLAGS: ReadonlyArray<string> = [
  "--external-memory-accounted-in-global-limit",
  growingPercentFlag(false),
]

export const limitHeapGrowth = (): void => {
  const v8 = process.getBuiltinModule("node:v8")
  for (const flag of RUNTIME_V8_FLAGS) v8.setFlagsFromString(flag)
}

export interface HeapGrowthOptions {
  /** How often the proxy's byte counter is read. */
  readonly everyMs: number
  /**
   * Bytes per second (both directions, all connections) from which the traffic counts as bulk.
   * 100 connections each doing 1 KiB round trips as fast as they can carried about 30 MiB/s
   * here; one iperf3 stream 80–370 MiB/s.
   */
  readonly bulkBytesPerSecond: number
  /** How long the rate stays below that before the factor goes back to 1.5. */
  readonly calmMs: number
}

export const defaultHeapGrowth: HeapGrowthOptions = {
  everyMs: 1_000,
  bulkBytesPerSecond: 64 * 1024 * 1024,
  calmMs: 5_000,
}

/** A reading of the proxy's byte counter (both directions) on a monotonic clock (ms). */
export interface GrowthSample {
  readonly bytes: number
  readonly atMs: number
}

export interface GrowthState {
  readonly previous: GrowthSample | undefined
  /** The bulk factor is in force. */
  readonly bulk: boolean
  /** Bulk in force, rate below the threshold since then (undefined otherwise). */
  readonly calmSinceMs: number | undefined
}

export const initialGrowthState: GrowthState = {
  previous: undefined,
  bulk: false,
  calmSinceMs: undefined,
}

/**
 * Bulk from the first reading whose rate since the previous one reaches `bulkBytesPerSecond`;
 * back to the usual factor once the rate has stayed below it for `calmMs`.
 */
export const nextGrowthState = (
  state: GrowthState,
  sample: GrowthSample,
  options: Pick<HeapGrowthOptions, "bulkBytesPerSecond" | "calmMs">,
): GrowthState => {
  const previous = state.previous
  if (previous === undefined || sample.atMs <= previous.atMs) return { ...state, previous: sample }
  const rate = ((sample.bytes - previous.bytes) * 1000) / (sample.atMs - previous.atMs)
  if (rate >= options.bulkBytesPerSecond)
    return { previous: sample, bulk: true, calmSinceMs: undefined }
  if (!state.bulk) return { previous: sample, bulk: false, calmSinceMs: undefined }
  const calmSinceMs = state.calmSinceMs ?? previous.atMs
  return sample.atMs - calmSinceMs >= options.calmMs
    ? { previous: sample, bulk: false, calmSinceMs: undefined }
    : { previous: sample, bulk: true, calmSinceMs }
}
