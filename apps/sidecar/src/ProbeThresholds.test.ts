import { describe, expect, it } from "vitest"
import { initialProbeState, observe, type ProbeResult, type ProbeState } from "./ProbeThresholds"

const pass: ProbeResult = { ok: true, message: "HTTP 200" }
const fail = (message = "HTTP 503"): ProbeResult => ({ ok: false, message })

const run = (results: ReadonlyArray<ProbeResult>, successThreshold = 1, failureThreshold = 3) => {
  const states: Array<ProbeState> = []
  for (const result of results)
    states.push(
      observe(states.at(-1) ?? initialProbeState, result, { successThreshold, failureThreshold }),
    )
  return states
}

describe("probe thresholds", () => {
  it("a probe is not ready before its first pass, and ready after one pass by default", () => {
    expect(initialProbeState.ready).toBe(false)
    expect(run([pass]).map((s) => s.ready)).toEqual([true])
  })

  it("failureThreshold failures in a row make it not ready; fewer do not", () => {
    expect(run([pass, fail(), fail(), pass, fail(), fail(), fail()]).map((s) => s.ready)).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ])
  })

  it("successThreshold passes in a row make it ready again", () => {
    const states = run([pass, fail(), pass, fail(), pass, pass], 2, 1)
    expect(states.map((s) => s.ready)).toEqual([false, false, false, false, false, true])
  })

  it("keeps the last failure's message after passing again", () => {
    const states = run([fail("connection refused"), pass])
    expect(states.at(-1)).toMatchObject({ ready: true, lastFailure: "connection refused" })
  })
})
