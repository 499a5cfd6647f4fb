/**
 * Sets the heap's growing factor by what the proxy carries (HeapGrowth.ts: why, and the rule).
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
  nextGrowthState,
} from "./HeapGrowth"

/**
 * Reads `bytes` (the proxy's bytes carried so far, both directions) on a timer for the life of the
 * scope and sets the growing factor when the regime changes (V8 applies it at its next limit).
 */
export const runHeapGrowth = Effect.fn("HeapGrowth.run")(function* (
  bytes: () => number,
  options: HeapGrowthOptions = defaultHeapGrowth,
  setFlag: (flag: string) => void = (flag) =>
    process.getBuiltinModule("node:v8").setFlagsFromString(flag),
) {
  const loop = Effect.gen(function* () {
    let state = initialGrowthState
    while (true) {
      const atMs = Number(yield* Clock.currentTimeNanos) / 1e6
      const next = nextGrowthState(state, { bytes: bytes(), atMs }, options)
      if (next.bulk !== state.bulk) {
        setFlag(growingPercentFlag(next.bulk))
        yield* Effect.logDebug(
          next.bulk
            ? `bulk traffic: heap growing factor ${1 + BULK_HEAP_GROWING_PERCENT / 100}`
            : `traffic calm: heap growing factor ${1 + HEAP_GROWING_PERCENT / 100}`,
        )
      }
      state = next
      yield* Effect.sleep(Duration.millis(options.everyMs))
    }
  })
  yield* Effect.forkScoped(loop)
})
