import { describe, expect, it } from "vitest"
import { HARD_EXIT_MS, STOP_TIMEOUT_SECONDS } from "./SidecarShutdown.js"

describe("SidecarShutdown", () => {
  it("leaves the sidecar its own exit bound and a margin before the agent's SIGKILL", () => {
    expect(STOP_TIMEOUT_SECONDS * 1000 - HARD_EXIT_MS).toBeGreaterThanOrEqual(1000)
    expect(Number.isInteger(STOP_TIMEOUT_SECONDS)).toBe(true)
  })
})
