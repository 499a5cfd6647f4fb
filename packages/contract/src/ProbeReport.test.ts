import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as ProbeReport from "./ProbeReport.js"
import * as ReadinessProbe from "./ReadinessProbe.js"

const decodes = <A>(schema: Schema.Codec<A, unknown>, value: unknown) =>
  Schema.decodeUnknownExit(schema)(value)._tag === "Success"

describe("ProbeReport", () => {
  it("an exec request names a probe kind and a container, nothing to run", () => {
    expect(decodes(ProbeReport.ExecRequest, { probe: "readiness", container: "app" })).toBe(true)
    expect(decodes(ProbeReport.ExecRequest, { probe: "grpc", container: "app" })).toBe(false)
  })

  it("only liveness and startup failures are reported (readiness only gates traffic)", () => {
    const failure = { probe: "liveness", container: "app", message: "HTTP 500" }
    expect(decodes(ProbeReport.ProbeFailure, failure)).toBe(true)
    expect(decodes(ProbeReport.ProbeFailure, { ...failure, probe: "readiness" })).toBe(false)
  })

  it("paths carry the pod name encoded", () => {
    expect(ProbeReport.execPath("bm-a-b")).toBe("/v1/pods/bm-a-b/probes/exec")
    expect(ProbeReport.failurePath("a/b")).toBe("/v1/pods/a%2Fb/probes/failures")
  })

  it("an exec probe describes itself by its command", () => {
    const probe = {
      container: "app",
      action: "exec" as const,
      command: ["test", "-f", "/tmp/ready"],
      ...ReadinessProbe.DEFAULTS,
    }
    expect(ReadinessProbe.describe(probe)).toBe("exec [test -f /tmp/ready]")
  })
})
