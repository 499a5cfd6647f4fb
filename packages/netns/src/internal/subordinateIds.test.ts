import { describe, expect, it } from "@effect/vitest"
import { subordinateRanges } from "./subordinateIds.js"

describe("subordinateRanges", () => {
  const text = "alice:100000:65536\n# comment\n1001:165536:65536\nbob:231072:1000\nbroken:x\n"

  it("finds ranges by name and by UID", () => {
    expect(subordinateRanges(text, "alice", 1000)).toEqual([{ start: 100000, count: 65536 }])
    expect(subordinateRanges(text, "carol", 1001)).toEqual([{ start: 165536, count: 65536 }])
    expect(subordinateRanges(text, "bob", 1002)).toEqual([{ start: 231072, count: 1000 }])
  })

  it("returns nothing for an unknown user or malformed lines", () => {
    expect(subordinateRanges(text, "nobody", 65534)).toEqual([])
    expect(subordinateRanges(text, "broken", 1)).toEqual([])
  })
})
