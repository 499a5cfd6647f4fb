/**
 * V8's heap limits for a proxy, set at run time once the sidecar has started: external memory
 * counted in the heap's limit, and a lower growing factor for that limit.
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

/** The flags `limitHeapGrowth` sets, in the order it sets them. */
export const RUNTIME_V8_FLAGS: ReadonlyArray<string> = [
  "--external-memory-accounted-in-global-limit",
  `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
]

export const limitHeapGrowth = (): void => {
  const v8 = process.getBuiltinModule("node:v8")
  for (const flag of RUNTIME_V8_FLAGS) v8.setFlagsFromString(flag)
}
