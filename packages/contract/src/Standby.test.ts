import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { Standby } from "./index.js"

describe("Standby.decodeClaim", () => {
  it("takes a record of BEEMESH_* variables", () => {
    const claim = Standby.decodeClaim({
      env: { BEEMESH_NAMESPACE: "default", BEEMESH_POD: "web-0" },
    })
    expect(Result.getOrThrow(claim).env).toEqual({
      BEEMESH_NAMESPACE: "default",
      BEEMESH_POD: "web-0",
    })
  })

  it.each([
    ["no env", {}],
    ["a variable that is not BEEMESH_*", { env: { PATH: "/bin" } }],
    ["a value that is not text", { env: { BEEMESH_POD: 1 } }],
    ["a list", []],
  ])("refuses %s", (_, body) => {
    const claim = Standby.decodeClaim(body)
    expect(Result.isFailure(claim)).toBe(true)
  })

  it("refuses a claim that sets the standby token", () => {
    const claim = Standby.decodeClaim({ env: { [Standby.TOKEN_VARIABLE]: "x" } })
    expect(Result.isFailure(claim) && claim.failure).toMatch(/sets BEEMESH_STANDBY_TOKEN/)
  })
})
