import { describe, expect, it } from "vitest"
import { compactHeap, initialCompactionState, residentBytes, shouldCompact } from "./HeapCompaction"

const MiB = 1024 * 1024

describe("heap compaction", () => {
  it("compacts at the first check when nothing was carried since start", () => {
    expect(
      shouldCompact(initialCompactionState, { activity: 0, residentBytes: 20 * MiB }, MiB),
    ).toBe(true)
    expect(
      shouldCompact(initialCompactionState, { activity: 3, residentBytes: 20 * MiB }, MiB),
    ).toBe(false)
  })

  it("compacts again after a quiet period once the heap grew, with or without traffic", () => {
    const compacted = { activity: 10, compactedAt: 20 * MiB }
    // Traffic since the previous check: wait, whatever the heap.
    expect(shouldCompact(compacted, { activity: 11, residentBytes: 60 * MiB }, MiB)).toBe(false)
    // No traffic at all since the last compaction, but the idle heap crept up: compact.
    expect(shouldCompact(compacted, { activity: 10, residentBytes: 21 * MiB }, MiB)).toBe(true)
    const afterTraffic = { ...compacted, activity: 25 }
    // Quiet since the previous check, but the heap is where the last compaction left it.
    expect(shouldCompact(afterTraffic, { activity: 25, residentBytes: 20.5 * MiB }, MiB)).toBe(
      false,
    )
    // Traffic since the last compaction, quiet now, and grown.
    expect(shouldCompact(afterTraffic, { activity: 25, residentBytes: 21 * MiB }, MiB)).toBe(true)
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

  it("reads the process's anonymous resident memory: part of its RSS, more than an empty heap", () => {
    const resident = residentBytes()
    expect(resident).toBeGreaterThan(4 * MiB)
    expect(resident).toBeLessThan(process.memoryUsage.rss())
  })
})
