import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { type LimitedLevel, makeLogLimiter } from "./logLimit.js"

const summary = (key: string) => (n: number, ms: number) => `${key}: ${n} more in ${ms} ms`

describe("makeLogLimiter", () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  const collecting = (windowMs = 1000) => {
    const lines: Array<[LimitedLevel, string]> = []
    const limiter = makeLogLimiter((level, line) => lines.push([level, line]), windowMs)
    return { lines, limiter }
  }

  it("writes the first line of a key at once and one summary of the rest when its window ends", () => {
    const { lines, limiter } = collecting()
    for (let i = 0; i < 50; i++) limiter.log("a", "Error", `failure ${i}`, summary("a"))
    expect(lines).toEqual([["Error", "failure 0"]])
    vi.advanceTimersByTime(999)
    expect(lines).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(lines).toEqual([
      ["Error", "failure 0"],
      ["Error", "a: 49 more in 1000 ms"],
    ])
    // A new window: the next line of the key is written in full again.
    limiter.log("a", "Error", "failure 50", summary("a"))
    expect(lines.at(-1)).toEqual(["Error", "failure 50"])
  })

  it("keeps keys apart, and writes no summary for a window without repeats", () => {
    const { lines, limiter } = collecting()
    limiter.log("a", "Warning", "a once", summary("a"))
    limiter.log("b", "Error", "b once", summary("b"))
    limiter.log("b", "Error", "b twice", summary("b"))
    vi.advanceTimersByTime(1000)
    expect(lines).toEqual([
      ["Warning", "a once"],
      ["Error", "b once"],
      ["Error", "b: 1 more in 1000 ms"],
    ])
    expect(vi.getTimerCount()).toBe(0)
  })

  it("close writes the open windows' summaries, stops their timers and lets later lines through", () => {
    const { lines, limiter } = collecting()
    limiter.log("a", "Error", "a", summary("a"))
    limiter.log("a", "Error", "a again", summary("a"))
    limiter.close()
    expect(lines).toEqual([
      ["Error", "a"],
      ["Error", "a: 1 more in 1000 ms"],
    ])
    expect(vi.getTimerCount()).toBe(0)
    limiter.log("a", "Error", "after close", summary("a"))
    limiter.log("a", "Error", "after close again", summary("a"))
    expect(lines.slice(2)).toEqual([
      ["Error", "after close"],
      ["Error", "after close again"],
    ])
    expect(vi.getTimerCount()).toBe(0)
  })
})
