import { describe, expect, it } from "vitest"
import {
  decide,
  formatDelay,
  nextBackoff,
  type Problem,
  type RestartState,
  STOPPING_WAIT_MS,
} from "./RestartPolicy"

const crashed: Problem = {
  message: "container bm-shop-web-0-app is exited with code 3",
  exited: { container: "app", exitCode: 3, logTail: ["fatal"] },
}
const running = (backoffMs: number, startedAt = 0): RestartState => ({
  phase: "Running",
  startedAt,
  backoffMs,
  restartAt: undefined,
})

describe("restart policy, as the kubelet's", () => {
  it("restarts at once, then after 10 s, doubling, capped at 5 min", () => {
    const delays: Array<number> = []
    let backoffMs = 0
    for (let i = 0; i < 8; i++) {
      const next = nextBackoff(backoffMs, 1000)
      delays.push(next.delayMs / 1000)
      backoffMs = next.backoffMs
    }
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 300, 300])
  })

  it("a replica that ran 10 min without failing starts over at an immediate restart", () => {
    expect(nextBackoff(300_000, 10 * 60_000 - 1)).toEqual({ delayMs: 300_000, backoffMs: 300_000 })
    expect(nextBackoff(300_000, 10 * 60_000)).toEqual({ delayMs: 0, backoffMs: 10_000 })
  })

  it("a container exit backs off; a lost pod, a failed creation and a new replica do not", () => {
    expect(decide(running(10_000), crashed, 5_000)).toEqual({
      _tag: "BackOff",
      delayMs: 10_000,
      backoffMs: 20_000,
    })
    expect(decide(running(0), crashed, 5_000)).toEqual({ _tag: "Restart", backoffMs: 10_000 })
    expect(decide(running(40_000), { message: "pod is gone" }, 5_000)).toEqual({
      _tag: "Restart",
      backoffMs: 40_000,
    })
    expect(decide({ ...running(40_000), phase: "Failed" }, crashed, 5_000)._tag).toBe("Restart")
    expect(decide({ ...running(0), phase: "Pending" }, undefined, 0)._tag).toBe("Create")
    expect(decide(running(0), undefined, 0)._tag).toBe("Leave")
  })

  it("a container being stopped is left until its exit, for at most STOPPING_WAIT_MS", () => {
    const stopping: Problem = { message: "container bm-shop-web-0-app is stopping", stopping: true }
    const seen = { ...running(10_000), stoppingSince: 1_000 }
    expect(decide(seen, stopping, 1_000)._tag).toBe("Leave")
    expect(decide(seen, stopping, 1_000 + STOPPING_WAIT_MS - 1)._tag).toBe("Leave")
    expect(decide(seen, stopping, 1_000 + STOPPING_WAIT_MS)).toEqual({
      _tag: "Restart",
      backoffMs: 10_000,
    })
  })

  it("a replica in CrashLoopBackOff waits until it is due", () => {
    const waiting: RestartState = {
      ...running(20_000),
      phase: "CrashLoopBackOff",
      restartAt: 15_000,
    }
    expect(decide(waiting, crashed, 14_999)._tag).toBe("Leave")
    expect(decide(waiting, crashed, 15_000)).toEqual({ _tag: "Restart", backoffMs: 20_000 })
  })

  it("restartPolicy: OnFailure restarts only a non-zero exit, Never none; both end the replica", () => {
    const clean: Problem = {
      message: "container bm-shop-job-app is exited with code 0",
      exited: { container: "app", exitCode: 0, logTail: [] },
    }
    expect(decide(running(0), crashed, 5_000, "OnFailure")).toEqual({
      _tag: "Restart",
      backoffMs: 10_000,
    })
    expect(decide(running(0), clean, 5_000, "OnFailure")).toEqual({
      _tag: "End",
      phase: "Succeeded",
    })
    expect(decide(running(0), crashed, 5_000, "Never")).toEqual({ _tag: "End", phase: "Failed" })
    expect(decide(running(0), clean, 5_000, "Never")).toEqual({ _tag: "End", phase: "Succeeded" })
    expect(decide(running(0), clean, 5_000, "Always")._tag).toBe("Restart")
    // Ended: left as it is, whatever is found later.
    const ended: RestartState = { ...running(0), phase: "Succeeded", ended: true }
    expect(decide(ended, { message: "pod is gone" }, 5_000, "Never")._tag).toBe("Leave")
  })

  it("the sidecar and the pod's network are repaired whatever the restartPolicy", () => {
    const sidecar: Problem = {
      message: "container bm-shop-job-sidecar is exited with code 0",
      exited: { container: "sidecar", exitCode: 0, logTail: [] },
    }
    expect(decide(running(0), sidecar, 5_000, "Never")._tag).toBe("Restart")
    expect(decide(running(0), { message: "slirp4netns is gone" }, 5_000, "Never")._tag).toBe(
      "Restart",
    )
  })

  it.each([
    [10_000, "10s"],
    [160_000, "2m40s"],
    [300_000, "5m"],
  ])("shows %i ms as %s", (ms, text) => expect(formatDelay(ms)).toBe(text))
})
