/**
 * A lower growing factor for V8's heap limits, set at run time once the sidecar has started.
 *
 * Why: after each full collection V8 sets the next limit (for the heap, and with
 * `--external-memory-accounted-in-global-limit` for heap + external memory together) at up to 4×
 * what survived when allocation is fast. Under 100 busy connections a sidecar's live data is
 * small, but the garbage between full collections (promoted by the 1 MiB young generation:
 * socket and Noise buffers, stream objects) grew to that limit: private memory peaked at 80–99
 * MiB. With a factor of 1.5 (`--heap-growing-percent=50`) the peak was 44–48 MiB, bulk CPU per
 * MiB and new connections per second within the run-to-run noise (measured interleaved, README
 * Footprint); 1.2 cut little more and cost bulk traffic about a quarter more CPU per MiB.
 *
 * At run time, not on the command line: V8 flags there are part of the compile cache's check
 * (image/compileCache.ts), and V8 reads this one at every limit it computes. After start, not at
 * load: the cache is written by running the bundle until it exits on its missing environment,
 * and a flag changed before that would be counted in the written cache's flag hash.
 */
export const HEAP_GROWING_PERCENT = 50

export const limitHeapGrowth = (): void => {
  process
    .getBuiltinModule("node:v8")
    .setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}
