/**
 * Gives V8 heap pages back once the sidecar is quiet: one memory-reducing full collection a few
 * seconds after start, and again whenever the proxy has been quiet for a check period and V8's
 * resident heap grew by `growthBytes` since the last one (after traffic, and an idle sidecar's
 * own slow growth alike).
 *
 * Why: V8 runs no full collection in an idle sidecar (young-generation collections only), so the
 * pages startup filled stay resident for the pod's life, and so do the old-space pages a burst of
 * traffic grew (tens of MiB after bulk traffic). An idle sidecar's heap creeps up too: each
 * renewal's garbage is promoted by young-generation collections, about 2.5 MiB over its first
 * minutes, which V8 collects only when its old generation reaches its limit. A collection with
 * V8's "last resort" flavour compacts the heap and releases the emptied pages. With it, bytecode
 * that has not run since the previous collection is flushed (`--bytecode-old-age` lowered for
 * that collection only): most of it is module initialisation that never runs again, and a
 * function needed later is compiled again from the bundle's source. Measured on an idle sidecar:
 * private memory 31.5 → 27 MiB at start; see the README's Footprint for the creep.
 *
 * The collector comes from `--expose-gc` set at run time and read from a fresh context: V8 flags
 * on the command line are part of the compile cache's check (see image/compileCache.ts), these are
 * not, and the cache has been read by the time this runs. A collection pauses the process for
 * about 20–30 ms on an idle heap (100–300 ms after bulk traffic), hence only when the proxy
 * carried nothing for a whole check period, and only after the memory grew: an idle sidecar pays
 * one per ten minutes at most.
 */
import { Duration, Effect, type Scope } from "effect"

/** V8's default, restored after each compaction so bytecode in use is not flushed under load. */
const DEFAULT_BYTECODE_OLD_AGE = 6

/** See HeapCompactionOptions (README Footprint: measured idle curves). */
const GROWTH_BYTES = 1.5 * 1024 * 1024
const IDLE_EVERY_MS = 10 * 60_000

export interface HeapCompactionOptions {
  /** The first check, after start (startup work done). */
  readonly firstAfterMs: number
  /** Later checks, each one compacting only if nothing was carried since the previous one. */
  readonly everyMs: number
  /**
   * Growth of the anonymous resident memory since the last compaction that warrants another one
   * (a burst grows it by tens of MiB, an idle sidecar by about 3 MiB over its first ten minutes).
   */
  readonly growthBytes: number
  /**
   * Without traffic since the last compaction, at least this long between two: an idle creep
   * given back after two minutes returned 0.5 MiB for a 60 ms pause, after eight 1.9 MiB; one
   * compaction per ten minutes costs an idle sidecar about 0.1 millicore at most.
   */
  readonly idleEveryMs: number
}

export const defaultHeapCompaction: HeapCompactionOptions = {
  firstAfterMs: 5_000,
  everyMs: 30_000,
  growthBytes: GROWTH_BYTES,
  idleEveryMs: IDLE_EVERY_MS,
}

/**
 * What a check sees: the proxy's activity counter and the process's anonymous resident memory
 * (V8's heap, its free page pool, glibc's heap: what compaction can give back; an idle sidecar's
 * creep shows there about twice as much as in V8's own `total_physical_size`).
 */
export interface HeapSample {
  readonly activity: number
  readonly residentBytes: number
  /** A monotonic clock, ms. */
  readonly atMs: number
}

export interface CompactionState {
  /** The activity counter at the previous check (undefined before the first). */
  readonly activity: number | undefined
  /** The anonymous resident memory right after the last compaction (undefined before the first). */
  readonly compactedAt: number | undefined
  /** The activity counter at the last compaction (undefined before the first). */
  readonly compactedActivity: number | undefined
  /** When the last compaction ran (the sample's clock; undefined before the first). */
  readonly compactedAtMs: number | undefined
}

export const initialCompactionState: CompactionState = {
  activity: undefined,
  compactedAt: undefined,
  compactedActivity: undefined,
  compactedAtMs: undefined,
}

/**
 * The first compaction: when the proxy carried nothing since start (the counter is still 0).
 * Later ones: when the proxy carried nothing since the previous check and the memory grew by
 * `growthBytes` since the last compaction; if nothing was carried since the last compaction
 * either (an idle sidecar's own creep: each renewal's garbage, promoted by young-generation
 * collections), only `idleEveryMs` after it.
 */
export const shouldCompact = (
  state: CompactionState,
  sample: HeapSample,
  options: Pick<HeapCompactionOptions, "growthBytes" | "idleEveryMs">,
): boolean => {
  const quiet = sample.activity === (state.activity ?? 0)
  if (state.compactedAt === undefined || state.compactedAtMs === undefined) return quiet
  if (!quiet || sample.residentBytes < state.compactedAt + options.growthBytes) return false
  return (
    sample.activity !== state.compactedActivity ||
    sample.atMs >= state.compactedAtMs + options.idleEveryMs
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

/**
 * V8 flushes no bytecode while the scope is open (`--no-flush-bytecode`, set at run time like
 * `--expose-gc`; the default is back when it closes). A standby sidecar holds it from its warm-up
 * to its claim (StandbyWarmUp.ts). Why: V8 flushes a function's bytecode once it went unused
 * through `--bytecode-old-age` (6) full collections; the code the warm-up compiled runs again only
 * after the claim, and a standby's own collections (the compaction after the warm-up, two, then
 * V8's memory reducer, two more within 10 s, measured) leave it two collections from being flushed,
 * which V8 runs whenever the slow growth of an idle heap reaches its limit.
 */
export const keepBytecode: Effect.Effect<void, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => process.getBuiltinModule("node:v8").setFlagsFromString("--no-flush-bytecode")),
  () =>
    Effect.sync(() => process.getBuiltinModule("node:v8").setFlagsFromString("--flush-bytecode")),
)

const PAGE_BYTES = 4096

/**
 * Anonymous resident memory: resident minus file-backed and shared pages, from /proc/self/statm
 * (one small read, ~10 µs: a check every 30 s costs nothing measurable); V8's resident heap where
 * /proc is missing.
 */
export const residentBytes = (): number => {
  let statm = ""
  try {
    statm = process.getBuiltinModule("node:fs").readFileSync("/proc/self/statm", "latin1")
  } catch {
    // Not Linux: fall back below.
  }
  const [, resident, shared] = statm.split(" ").map(Number)
  return resident !== undefined && shared !== undefined && resident >= shared
    ? (resident - shared) * PAGE_BYTES
    : process.getBuiltinModule("node:v8").getHeapStatistics().total_physical_size
}

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
      const sample = {
        activity: activity(),
        residentBytes: residentBytes(),
        atMs: performance.now(),
      }
      if (shouldCompact(state, sample, options)) {
        const started = performance.now()
        const { before, after } = compactHeap()
        yield* Effect.logInfo(
          `heap compacted: ${(before / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB resident in ${Math.round(performance.now() - started)} ms (process: ${(sample.residentBytes / 1048576).toFixed(1)} MiB anonymous before)`,
        )
        const now = activity()
        state = {
          activity: now,
          compactedAt: residentBytes(),
          compactedActivity: now,
          compactedAtMs: performance.now(),
        }
      } else state = { ...state, activity: sample.activity }
      yield* Effect.sleep(Duration.millis(options.everyMs))
    }
  })
  yield* Effect.forkScoped(loop)
})
