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
    expect(elapsed).toBeGreaterThanOrEqual(29)
    expect(Math.abs(elapsed - (performance.now() - theirs))).toBeLessThan(5)
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
