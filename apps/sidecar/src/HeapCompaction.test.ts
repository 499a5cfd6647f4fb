import { describe, expect, it } from "vitest"
import { compactHeap, initialCompactionState, residentBytes, shouldCompact } from "./HeapCompaction"

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

  it("reads the process's anonymous resident memory: part of its RSS, more than an empty heap", () => {
    const resident = residentBytes()
    expect(resident).toBeGreaterThan(4 * MiB)
    expect(resident).toBeLessThan(process.memoryUsage.rss())
  })
})
