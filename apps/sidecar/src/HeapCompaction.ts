/**
 * Gives V8 heap pages back once the sidecar is quiet: one memory-reducing full collection a few
 * seconds after start, and again after traffic, once the proxy has been quiet for a check period
 * and the heap grew since the last one (never for an idle sidecar's own slow growth).
 *
 * Why: V8 runs no full collection in an idle sidecar (young-generation collections only), so the
 * pages startup filled stay resident for the pod's life, and so do the old-space pages a burst of
 * traffic grew (tens of MiB after bulk traffic). A collection with V8's "last resort" flavour
 * compacts the heap and releases the emptied pages. With it, bytecode that has not run since the
 * previous collection is flushed (`--bytecode-old-age` lowered for that collection only): most of
 * it is module initialisation that never runs again, and a function needed later is compiled
 * again from the bundle's source. Measured on an idle sidecar: private memory 31.5 → 27 MiB.
 *
 * The collector comes from `--expose-gc` set at run time and read from a fresh context: V8 flags
 * on the command line are part of the compile cache's check (see image/compileCache.ts), these are
 * not, and the cache has been read by the time this runs. A collection pauses the process for
 * about 100–300 ms, hence only when the proxy carried nothing for a whole check period.
 */
import { Duration, Effect } from "effect"

/** V8's default, restored after each compaction so bytecode in use is not flushed under load. */
const DEFAULT_BYTECODE_OLD_AGE = 6

export interface HeapCompactionOptions {
  /** The first check, after start (startup work done). */
  readonly firstAfterMs: number
  /** Later checks, each one compacting only if nothing was carried since the previous one. */
  readonly everyMs: number
  /**
   * Growth of V8's resident heap since the last compaction that warrants another one after
   * traffic (a burst grows it by tens of MiB; a few calls are not worth a pause).
   */
  readonly growthBytes: number
}

export const defaultHeapCompaction: HeapCompactionOptions = {
  firstAfterMs: 5_000,
  everyMs: 30_000,
  growthBytes: 4 * 1024 * 1024,
}

/** What a check sees: the proxy's activity counter and V8's resident heap. */
export interface HeapSample {
  readonly activity: number
  readonly heapBytes: number
}

export interface CompactionState {
  /** The activity counter at the previous check (undefined before the first). */
  readonly activity: number | undefined
  /** The activity counter at the last compaction (undefined before the first). */
  readonly compactedActivity: number | undefined
  /** V8's resident heap right after the last compaction (undefined before the first). */
  readonly compactedAt: number | undefined
}

export const initialCompactionState: CompactionState = {
  activity: undefined,
  compactedActivity: undefined,
  compactedAt: undefined,
}

/**
 * The first compaction: when the proxy carried nothing since start (the counter is still 0).
 * Later ones: when the proxy carried something since the last compaction, then nothing since the
 * previous check, and the heap grew by `growthBytes` meanwhile. An idle sidecar's heap creeps up
 * too (each renewal's garbage, promoted by young-generation collections), but V8's own full
 * collections bound that; compacting it on a timer would cost every idle pod CPU.
 */
export const shouldCompact = (
  state: CompactionState,
  sample: HeapSample,
  growthBytes: number,
): boolean => {
  const quiet = sample.activity === (state.activity ?? 0)
  if (state.compactedAt === undefined || state.compactedActivity === undefined) return quiet
  return (
    quiet &&
    sample.activity !== state.compactedActivity &&
    sample.heapBytes >= state.compactedAt + growthBytes
  )
}

let collector: ((options: object) => void) | undefined

/** A memory-reducing full collection (flushing bytecode unused since the previous one). */
export const compactHeap = (): { readonly before: number; readonly after: number } => {
  const v8 = process.getBuiltinModule("node:v8")
  if (collector === undefined) {
    v8.setFlagsFromString("--expose-gc")
    collector = process.getBuiltinModule("node:vm").runInNewContext("gc") as (o: object) => void
  }
  const before = v8.getHeapStatistics().total_physical_size
  v8.setFlagsFromString("--bytecode-old-age=1")
  try {
    collector({ type: "major", execution: "sync", flavor: "last-resort" })
  } finally {
    v8.setFlagsFromString(`--bytecode-old-age=${DEFAULT_BYTECODE_OLD_AGE}`)
  }
  return { before, after: v8.getHeapStatistics().total_physical_size }
}

const heapBytes = () => process.getBuiltinModule("node:v8").getHeapStatistics().total_physical_size

/**
 * Checks on a timer for the life of the scope; `activity` is a counter that moves whenever the
 * proxy carries something (bytes or streams, both directions).
 */
export const runHeapCompaction = Effect.fn("HeapCompaction.run")(function* (
  activity: () => number,
  options: HeapCompactionOptions = defaultHeapCompaction,
) {
  const loop = Effect.gen(function* () {
    let state = initialCompactionState
    yield* Effect.sleep(Duration.millis(options.firstAfterMs))
    while (true) {
      const sample = { activity: activity(), heapBytes: heapBytes() }
      if (shouldCompact(state, sample, options.growthBytes)) {
        const started = performance.now()
        const { before, after } = compactHeap()
        yield* Effect.logInfo(
          `heap compacted: ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB resident in ${Math.round(performance.now() - started)} ms`,
        )
        const now = activity()
        state = { activity: now, compactedActivity: now, compactedAt: after }
      } else state = { ...state, activity: sample.activity }
      yield* Effect.sleep(Duration.millis(options.everyMs))
    }
  })
  yield* Effect.forkScoped(loop)
})
