import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { monotonicMs } from "./clock.js"

const SRC = join(import.meta.dirname, "..")

describe("monotonicMs", () => {
  it("moves with performance.now, in milliseconds", async () => {
    const [ours, theirs] = [monotonicMs(), performance.now()]
    await new Promise((resolve) => setTimeout(resolve, 30))
    const elapsed = monotonicMs() - ours
    const reference = performance.now() - theirs
    // Milliseconds (not µs or ns), within what a busy machine may put between two reads.
    expect(elapsed).toBeGreaterThanOrEqual(25)
    expect(Math.abs(elapsed - reference)).toBeLessThan(50)
  })

  it("is what the proxy's code times with: none of it reads the global performance", () => {
    // Reading it loads node:perf_hooks; the first read was on a sidecar's first connection.
    const sources = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter(
      (file) => file.endsWith(".ts") && !file.endsWith(".test.ts"),
    )
    expect(sources).toContain("Outbound.ts")
    const readers = sources.filter((file) =>
      /(?<![\w.])performance\s*[.[]/.test(readFileSync(join(SRC, file), "utf8")),
    )
    expect(readers).toEqual([])
  })
})
