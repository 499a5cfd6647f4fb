import { describe, expect, it } from "vitest"
import { LABEL_OWNER_PID, LABEL_OWNER_START } from "../Ownership.js"
import { ownerLabels, ownerState, processStartTime } from "./owner.js"

describe("ownership", () => {
  it("labels name this process with its pid and start time", () => {
    const labels = ownerLabels("agent-1")
    expect(labels).toMatchObject({
      "io.beemesh.owner": "agent-1",
      [LABEL_OWNER_PID]: String(process.pid),
    })
    expect(labels[LABEL_OWNER_START]).toMatch(/^\d+$/)
    expect(ownerState(labels)).toBe("alive")
  })

  it("a pid whose start time differs is gone (pid reuse); missing labels are unknown", () => {
    const start = processStartTime(process.pid)!
    expect(
      ownerState({ [LABEL_OWNER_PID]: String(process.pid), [LABEL_OWNER_START]: `${start}0` }),
    ).toBe("gone")
    expect(ownerState({ [LABEL_OWNER_PID]: "999999999", [LABEL_OWNER_START]: "1" })).toBe("gone")
    expect(ownerState({})).toBe("unknown")
    expect(ownerState(null)).toBe("unknown")
    expect(ownerState({ [LABEL_OWNER_PID]: "12" })).toBe("unknown")
  })
})
