import { describe, expect, it } from "vitest"
import type { WorkloadStatus } from "../Api"
import { describeWorkload } from "./Describe"

const crashing: WorkloadStatus = {
  namespace: "shop",
  name: "web",
  kind: "Deployment",
  replicas: 1,
  ready: 0,
  services: [],
  pods: [
    {
      name: "web-0",
      pod: "bm-shop-web-0",
      phase: "CrashLoopBackOff",
      restarts: 2,
      message:
        "back-off 20s restarting failed replica: container bm-shop-web-0-app is exited with code 3",
      lastTermination: {
        container: "app",
        exitCode: 3,
        at: "2026-01-01T00:00:30.000Z",
        logTail: ["booting", "fatal: config missing"],
      },
      restartAt: "2026-01-01T00:00:50.000Z",
      events: [
        { at: "2026-01-01T00:00:30.000Z", reason: "BackOff", message: "back-off 20s" },
        { at: "2026-01-01T00:00:00.000Z", reason: "Created", message: "pod created" },
      ],
    },
  ],
}

describe("beemesh describe workload", () => {
  it("shows a crash-looping replica's phase, last exit code, log tail and its events in time order", () => {
    const text = describeWorkload(crashing)
    expect(text).toContain("CrashLoopBackOff")
    expect(text).toContain(
      "Last State: container app exited with code 3 at 2026-01-01T00:00:30.000Z; restarting at 2026-01-01T00:00:50.000Z",
    )
    expect(text).toContain("      | fatal: config missing\n")
    const events = text.slice(text.indexOf("Events:"))
    expect(events.indexOf("reason=Created")).toBeGreaterThan(0)
    expect(events.indexOf("reason=Created")).toBeLessThan(events.indexOf("reason=BackOff"))
    expect(events).toContain("pod=bm-shop-web-0")
  })
})
