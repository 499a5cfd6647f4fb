/**
 * Which simulated-host runs a sweep leaves alone. E2E files run side by side, each sweeping
 * leftovers before it starts its own run: a live run of another file must never look like one.
 */
import { describe, expect, it } from "vitest"
import { isOwnedRun, RECORDLESS_GRACE_MS, type RunRecord } from "../support/hosts/Sweeper"

const record = (ownerPid: number, keep = false): RunRecord => ({
  runId: "ab12",
  ownerPid,
  keep,
  switchNetns: "bmh-ab12-sw",
  hosts: [],
})
const alive = (pids: ReadonlyArray<number>) => (pid: number) => pids.includes(pid)

describe("isOwnedRun", () => {
  it("a run of another process that still runs is left alone; one whose owner is gone is not", () => {
    expect(isOwnedRun(record(4242), 5_000_000, alive([4242]), 1)).toBe(true)
    expect(isOwnedRun(record(4242), 5_000_000, alive([]), 1)).toBe(false)
  })

  it("this process's own earlier run is a leftover; a kept run never is", () => {
    expect(isOwnedRun(record(1), 0, alive([1]), 1)).toBe(false)
    expect(isOwnedRun(record(4242, true), 5_000_000, alive([]), 1)).toBe(true)
  })

  it("a directory without a record is being created while young, a leftover once old", () => {
    expect(isOwnedRun(undefined, 10, alive([]), 1)).toBe(true)
    expect(isOwnedRun(undefined, RECORDLESS_GRACE_MS - 1, alive([]), 1)).toBe(true)
    expect(isOwnedRun(undefined, RECORDLESS_GRACE_MS, alive([]), 1)).toBe(false)
    expect(isOwnedRun(undefined, Number.POSITIVE_INFINITY, alive([]), 1)).toBe(false)
  })
})
