import { describe, expect, it } from "vitest"
import type { WorkloadStatus } from "../Api"
import { rolloutState } from "./Apply"

const status = (fields: Partial<WorkloadStatus>): WorkloadStatus => ({
  namespace: "shop",
  name: "web",
  kind: "Deployment",
  replicas: 2,
  ready: 2,
  services: [],
  pods: [],
  ...fields,
})

describe("apply follows the rollout", () => {
  it("is done when every replica is ready and runs the current revision", () => {
    expect(rolloutState(status({ updated: 2 }))).toBe("done")
    // An agent that reports no `updated` count: readiness alone.
    expect(rolloutState(status({}))).toBe("done")
  })

  it("waits while an update is under way, even with every old replica ready", () => {
    expect(rolloutState(status({ ready: 3, updated: 1 }))).toBe("waiting")
    expect(rolloutState(status({ ready: 1, updated: 2 }))).toBe("waiting")
    // The previous version applied again: its replicas are current, a newer one is still going.
    const going = {
      type: "Progressing",
      status: "True",
      reason: "ReplicasUpdating",
      message: "2 of 2 replicas run the current spec",
    }
    expect(rolloutState(status({ ready: 3, updated: 2, conditions: [going] }))).toBe("waiting")
    const over = { ...going, reason: "ReplicasAvailable" }
    expect(rolloutState(status({ ready: 2, updated: 2, conditions: [over] }))).toBe("done")
  })

  it("fails with the agent's reason when the update cannot progress", () => {
    const stuck = {
      type: "Progressing",
      status: "False",
      reason: "ProgressDeadlineExceeded",
      message: "revision x made no progress for 30s: replica web-2: container is exited",
    }
    expect(rolloutState(status({ updated: 0, conditions: [stuck] }))).toMatchObject({
      reason: "ProgressDeadlineExceeded",
      message: stuck.message,
    })
  })
})
