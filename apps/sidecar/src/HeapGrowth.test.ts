import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { HEAP_GROWING_PERCENT, RUNTIME_V8_FLAGS } from "./HeapGrowth"
import { SIDECAR_NODE_FLAGS } from "./NodeFlags"

// A node started as the sidecar is churns through 256 MiB of short-lived buffers (memory outside
// V8's heap, as bridged traffic is) three times and counts V8's full collections in each round;
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
rounds.push(await churn(), await churn())
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
    expect(without[2], JSON.stringify(without)).toBeGreaterThanOrEqual(2)
    // Set at run time they take effect from the next full collection on: the last round has none.
    const applied = churnRounds(true)
    expect(applied[0], JSON.stringify(applied)).toBeGreaterThanOrEqual(2)
    expect(applied[2], JSON.stringify(applied)).toBe(0)
  }, 60_000)
})
