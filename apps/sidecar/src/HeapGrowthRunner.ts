/**
 * Sets the heap's growing factor and V8's memory-saver mode by what the proxy carries
 * (HeapGrowth.ts: why, and the rules).
 * Apart from HeapGrowth.ts, which a test imports into a bare node to count its collections: this
 * module's imports would change what it counts.
 */
import { Clock, Duration, Effect } from "effect"
import {
  BULK_HEAP_GROWING_PERCENT,
  defaultHeapGrowth,
  growingPercentFlag,
  HEAP_GROWING_PERCENT,
  type HeapGrowthOptions,
  initialGrowthState,
  memorySaver,
  memorySaverFlag,
  nextGrowthState,
} from "./HeapGrowth"

/** What the runner reads of the proxy: bytes carried so far (both directions), streams open now. */
export interface ProxyTraffic {
  readonly bytes: number
  readonly streamsOpen: number
}

/**
 * Reads the proxy's traffic on a timer for the life of the scope and sets the growing factor and
 * the memory-saver mode when either changes (V8 applies them at its next limit).
 */
export const runHeapGrowth = Effect.fn("HeapGrowth.run")(function* (
  traffic: () => ProxyTraffic,
  options: HeapGrowthOptions = defaultHeapGrowth,
  setFlag: (flag: string) => void = (flag) =>
    process.getBuiltinModule("node:v8").setFlagsFromString(flag),
) {
  const loop = Effect.gen(function* () {
    let state = initialGrowthState
    let saver = false
    while (true) {
      const atMs = Number(yield* Clock.currentTimeNanos) / 1e6
      const now = traffic()
      const next = nextGrowthState(state, { bytes: now.bytes, atMs }, options)
      if (next.bulk !== state.bulk) {
        setFlag(growingPercentFlag(next.bulk))
        yield* Effect.logDebug(
          next.bulk
            ? `bulk traffic: heap growing factor ${1 + BULK_HEAP_GROWING_PERCENT / 100}`
            : `traffic calm: heap growing factor ${1 + HEAP_GROWING_PERCENT / 100}`,
        )
      }
      const nextSaver = memorySaver(next.bulk, now.streamsOpen)
      if (nextSaver !== saver) {
        setFlag(memorySaverFlag(nextSaver))
        yield* Effect.logDebug(
          `${now.streamsOpen} connections open${next.bulk ? ", bulk" : ""}: memory-saver mode ${nextSaver ? "on" : "off"}`,
        )
      }
      saver = nextSaver
      state = next
      yield* Effect.sleep(Duration.millis(options.everyMs))
    }
  })
  yield* Effect.forkScoped(loop)
})
