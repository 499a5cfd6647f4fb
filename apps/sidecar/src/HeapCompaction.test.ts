import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  compactHeap,
  initialCompactionState,
  keepBytecode,
  residentBytes,
  shouldCompact,
} from "./HeapCompaction"

const MiB = 1024 * 1024

describe("heap compaction", () => {
  const options = { growthBytes: MiB, idleEveryMs: 600_000 }

  it("compacts at the first check when nothing was carried since start", () => {
    const first = (activity: number) =>
      shouldCompact(initialCompactionState, { activity, residentBytes: 20 * MiB, atMs: 0 }, options)
    expect(first(0)).toBe(true)
    expect(first(3)).toBe(false)
  })

  it("compacts again after traffic once quiet and grown", () => {
    const compacted = {
      activity: 10,
      compactedAt: 20 * MiB,
      compactedActivity: 10,
      compactedAtMs: 0,
    }
    const afterTraffic = { ...compacted, activity: 25 }
    // Traffic since the previous check: wait, whatever the memory.
    expect(
      shouldCompact(afterTraffic, { activity: 26, residentBytes: 60 * MiB, atMs: 1_000 }, options),
    ).toBe(false)
    // Quiet since the previous check, but the memory is where the last compaction left it.
    expect(
      shouldCompact(
        afterTraffic,
        { activity: 25, residentBytes: 20.5 * MiB, atMs: 1_000 },
        options,
      ),
    ).toBe(false)
    // Traffic since the last compaction, quiet now, and grown: at once.
    expect(
      shouldCompact(afterTraffic, { activity: 25, residentBytes: 21 * MiB, atMs: 1_000 }, options),
    ).toBe(true)
  })

  it("gives an idle sidecar's creep back, at most once per idle period", () => {
    const compacted = {
      activity: 10,
      compactedAt: 20 * MiB,
      compactedActivity: 10,
      compactedAtMs: 0,
    }
    // No traffic since the last compaction and grown, but too soon after it.
    expect(
      shouldCompact(compacted, { activity: 10, residentBytes: 22 * MiB, atMs: 599_000 }, options),
    ).toBe(false)
    // Grown and a whole idle period later.
    expect(
      shouldCompact(compacted, { activity: 10, residentBytes: 22 * MiB, atMs: 600_000 }, options),
    ).toBe(true)
    // A whole idle period later, but not grown.
    expect(
      shouldCompact(compacted, { activity: 10, residentBytes: 20.5 * MiB, atMs: 900_000 }, options),
    ).toBe(false)
  })

  it("gives back the pages of a heap grown by objects of which a few survive", () => {
    // About 40 MiB of small objects kept across young-generation collections (so they reach old
    // space, as startup's and a traffic burst's do), then all but one in 16 dropped: every page
    // keeps a few live objects, so only a compacting collection can release pages.
    let all: Array<Array<number>> | undefined = Array.from({ length: 200_000 }, (_, i) =>
      Array.from({ length: 24 }, (_, j) => i * j + 0.5),
    )
    const survivors = all.filter((_, i) => i % 16 === 0)
    all = undefined
    const { before, after } = compactHeap()
    expect(before - after).toBeGreaterThan(20 * MiB)
    expect(survivors).toHaveLength(12_500)
    // A second compaction right after finds nothing more to give back, and still works.
    const again = compactHeap()
    expect(again.after).toBeLessThanOrEqual(again.before + MiB)
  })

  it("keeps bytecode while keepBytecode's scope is open, flushes it again once it closed", async () => {
    const v8 = process.getBuiltinModule("node:v8")
    const bytecode = () => v8.getHeapCodeStatistics().bytecode_and_metadata_size
    // 2000 functions of their own, each compiled by one call and not called again.
    const source = Array.from(
      { length: 2000 },
      (_, i) =>
        `(a) => { let s = ${i}; for (let j = 0; j < a; j++) s += j * ${i} + (a ^ ${i}); return s }`,
    )
    const functions = process
      .getBuiltinModule("node:vm")
      .runInThisContext(`[${source.join(",\n")}]`) as Array<(a: number) => number>
    for (const f of functions) f(2)
    const flushedBy = () => {
      const before = bytecode()
      compactHeap()
      return before - bytecode()
    }
    const whileKept = await Effect.runPromise(
      Effect.scoped(Effect.andThen(keepBytecode, Effect.sync(flushedBy))),
    )
    const afterwards = flushedBy()
    expect(whileKept).toBeLessThan(64 * 1024)
    // The 2000 functions' bytecode at least (and whatever else went unused meanwhile).
    expect(afterwards).toBeGreaterThan(256 * 1024)
    expect(functions).toHaveLength(2000)
  })

  it("reads the process's anonymous resident memory: part of its RSS, more than an empty heap", () => {
    const resident = residentBytes()
    expect(resident).toBeGreaterThan(4 * MiB)
    expect(resident).toBeLessThan(process.memoryUsage.rss())
  })
})
