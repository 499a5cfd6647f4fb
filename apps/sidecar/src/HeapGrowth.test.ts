import { spawnSync } from "node:child_process"
import { it as effectIt } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import {
  BULK_HEAP_GROWING_PERCENT,
  type GrowthState,
  growingPercentFlag,
  HEAP_GROWING_PERCENT,
  initialGrowthState,
  MEMORY_SAVER_STREAMS,
  memorySaver,
  memorySaverFlag,
  nextGrowthState,
  RUNTIME_V8_FLAGS,
} from "./HeapGrowth"
import { runHeapGrowth } from "./HeapGrowthRunner"
import { SIDECAR_NODE_FLAGS } from "./NodeFlags"

// A node started as the sidecar is churns through 256 MiB of short-lived buffers (memory outside
// V8's heap, as bridged traffic is) five times and counts V8's full collections in each round;
// with `apply` it sets the runtime flags after the first round, as the sidecar does once started.
const CHURN = `
import { PerformanceObserver, constants } from "node:perf_hooks"
const { limitHeapGrowth } = await import(process.argv[1])
let majors = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++
}).observe({ entryTypes: ["gc"] })
const churn = async () => {
  for (let i = 0; i < 2048; i++) {
    Buffer.allocUnsafeSlow(128 * 1024).fill(1)
    if (i % 32 === 0) await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 50))
  const counted = majors
  majors = 0
  return counted
}
const rounds = [await churn()]
if (process.argv[2] === "apply") limitHeapGrowth()
for (let i = 0; i < 4; i++) rounds.push(await churn())
console.log(JSON.stringify(rounds))
`

const churnRounds = (apply: boolean): ReadonlyArray<number> => {
  const run = spawnSync(
    process.execPath,
    [
      ...SIDECAR_NODE_FLAGS,
      "--input-type=module",
      "-e",
      CHURN,
      new URL("./HeapGrowth.ts", import.meta.url).href,
      apply ? "apply" : "",
    ],
    { encoding: "utf8", timeout: 60_000 },
  )
  expect(run.status, run.stderr).toBe(0)
  return JSON.parse(run.stdout)
}

describe("the heap limits set at run time", () => {
  it("are the proxy's flag for external memory and a growing factor of 1.5", () => {
    expect(RUNTIME_V8_FLAGS).toEqual([
      "--external-memory-accounted-in-global-limit",
      `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    ])
    expect(HEAP_GROWING_PERCENT).toBe(50)
  })

  it("stop the full collection per 64 MiB of buffers once V8 has recomputed its limits", () => {
    // Without them a node collects fully every 64 MiB or so of external memory, each round.
    const without = churnRounds(false)
    expect(without[4], JSON.stringify(without)).toBeGreaterThanOrEqual(2)
    // Set at run time they take effect once V8 has recomputed its limits at a full collection:
    // one or two rounds later (e.g. [3, 2, 1, 0, 0]); the last rounds have none.
    const applied = churnRounds(true)
    expect(applied[0], JSON.stringify(applied)).toBeGreaterThanOrEqual(2)
    expect(applied.slice(3), JSON.stringify(applied)).toEqual([0, 0])
  }, 60_000)

  it("are, with the runner's, flags the running V8 knows (an unknown one only prints an error)", () => {
    const listed = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" }).stdout
    const known = new Set(listed.match(/^ {2}--[a-z0-9-]+/gm)?.map((f) => f.trim()))
    const names = [...RUNTIME_V8_FLAGS, growingPercentFlag(true), memorySaverFlag(true)].map(
      (flag) => flag.split("=")[0]!,
    )
    for (const name of names) expect(known, name).toContain(name)
  })
})

const MiB = 1024 * 1024
const options = { bulkBytesPerSecond: 64 * MiB, calmMs: 5_000 }
const step = (state: GrowthState, bytes: number, atMs: number) =>
  nextGrowthState(state, { bytes, atMs }, options)

describe("the growing factor by traffic", () => {
  it("turns bulk on the first second that carries the threshold, not before", () => {
    let state = step(initialGrowthState, 0, 0)
    expect(state.bulk).toBe(false)
    // 100 connections' worth of 1 KiB round trips: about 30 MiB a second, not bulk.
    state = step(state, 30 * MiB, 1_000)
    expect(state.bulk).toBe(false)
    state = step(state, 30 * MiB + 64 * MiB, 2_000)
    expect(state).toEqual({
      previous: { bytes: 94 * MiB, atMs: 2_000 },
      bulk: true,
      calmSinceMs: undefined,
    })
  })

  it("goes back only after the rate stayed below the threshold for calmMs", () => {
    let state = step(step(initialGrowthState, 0, 0), 100 * MiB, 1_000)
    expect(state.bulk).toBe(true)
    // Quiet from 1 s on: still bulk at 5 s (4 s calm), back at 6 s.
    for (const at of [2_000, 3_000, 4_000, 5_000]) {
      state = step(state, 100 * MiB, at)
      expect(state.bulk, `at ${at} ms`).toBe(true)
    }
    state = step(state, 100 * MiB, 6_000)
    expect(state.bulk).toBe(false)
  })

  it("a burst inside the calm period starts it over", () => {
    let state = step(step(initialGrowthState, 0, 0), 100 * MiB, 1_000)
    state = step(state, 100 * MiB, 4_000)
    state = step(state, 200 * MiB, 5_000)
    expect(state.calmSinceMs).toBeUndefined()
    state = step(state, 200 * MiB, 9_000)
    expect(state.bulk).toBe(true)
    expect(step(state, 200 * MiB, 10_000).bulk).toBe(false)
  })

  it("a reading at the same instant, or before the previous one, changes nothing", () => {
    const state = step(step(initialGrowthState, 0, 1_000), 10 * MiB, 1_000)
    expect(state.bulk).toBe(false)
    expect(step(state, 500 * MiB, 900).bulk).toBe(false)
  })

  it("the flags: 1.5 usually, 2 for bulk", () => {
    expect(growingPercentFlag(false)).toBe("--heap-growing-percent=50")
    expect(growingPercentFlag(true)).toBe(`--heap-growing-percent=${BULK_HEAP_GROWING_PERCENT}`)
    expect(BULK_HEAP_GROWING_PERCENT).toBe(100)
  })

  it("memory-saver mode with 32 connections open or more, never in bulk", () => {
    expect(MEMORY_SAVER_STREAMS).toBe(32)
    expect(memorySaver(false, 0)).toBe(false)
    expect(memorySaver(false, 31)).toBe(false)
    expect(memorySaver(false, 32)).toBe(true)
    expect(memorySaver(false, 100)).toBe(true)
    expect(memorySaver(true, 100)).toBe(false)
    expect(memorySaverFlag(true)).toBe("--memory-saver-mode")
    expect(memorySaverFlag(false)).toBe("--no-memory-saver-mode")
  })

  effectIt.effect("the running loop sets the flag when the regime changes, and only then", () =>
    Effect.gen(function* () {
      let carried = 0
      const set: Array<string> = []
      yield* runHeapGrowth(
        () => ({ bytes: carried, streamsOpen: 1 }),
        { ...options, everyMs: 1_000 },
        (flag) => set.push(flag),
      )
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set).toEqual([])
      carried += 80 * MiB
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set).toEqual(["--heap-growing-percent=100"])
      carried += 80 * MiB
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(6))
      expect(set).toEqual(["--heap-growing-percent=100", "--heap-growing-percent=50"])
    }).pipe(Effect.scoped),
  )

  effectIt.effect("memory-saver mode follows the open connections, and yields to bulk", () =>
    Effect.gen(function* () {
      let carried = 0
      let streamsOpen = 0
      const set: Array<string> = []
      yield* runHeapGrowth(
        () => ({ bytes: carried, streamsOpen }),
        { ...options, everyMs: 1_000 },
        (flag) => set.push(flag),
      )
      streamsOpen = 100
      carried += 30 * MiB
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set).toEqual(["--memory-saver-mode"])
      // Still 100 open, now carrying bulk: factor 2 and the mode off, in one reading.
      carried += 100 * MiB
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set.slice(1)).toEqual(["--heap-growing-percent=100", "--no-memory-saver-mode"])
      // Calm for 5 s: factor 1.5 and, with 100 still open, the mode on again.
      yield* TestClock.adjust(Duration.seconds(6))
      expect(set.slice(3)).toEqual(["--heap-growing-percent=50", "--memory-saver-mode"])
      streamsOpen = 3
      yield* TestClock.adjust(Duration.seconds(1))
      expect(set.slice(5)).toEqual(["--no-memory-saver-mode"])
      yield* TestClock.adjust(Duration.seconds(3))
      expect(set).toHaveLength(6)
    }).pipe(Effect.scoped),
  )
})
