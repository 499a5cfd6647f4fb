import { describe, expect, it } from "vitest"
import { AGENT_NODE_OPTIONS, AGENT_V8_FLAGS } from "./NodeOptions"
import { MALLOC_ARENAS, wantedStart } from "./ProcessSettings"

const ALL = [...AGENT_NODE_OPTIONS, ...AGENT_V8_FLAGS]

describe("wantedStart", () => {
  it("adds the agent's Node and V8 options and the malloc arenas to a bare start", () => {
    expect(wantedStart({ execArgv: [], env: { PATH: "/bin" } })).toEqual({
      execArgv: ALL,
      env: { PATH: "/bin", MALLOC_ARENA_MAX: MALLOC_ARENAS },
    })
  })

  it("changes nothing in a start that has them all", () => {
    expect(wantedStart({ execArgv: ALL, env: { MALLOC_ARENA_MAX: "2" } })).toBeUndefined()
  })

  it("keeps the operator's values: another value, a negation, an underscore spelling", () => {
    expect(
      wantedStart({
        execArgv: ["--max_semi_space_size=4", "--no-optimize-for-size", "--max_opt=999"],
        env: { MALLOC_ARENA_MAX: "8" },
      }),
    ).toBeUndefined()
  })

  it("adds only what is missing, after what was given", () => {
    expect(wantedStart({ execArgv: ["--max-semi-space-size=1", "--inspect"], env: {} })).toEqual({
      execArgv: ["--max-semi-space-size=1", "--inspect", ...AGENT_V8_FLAGS],
      env: { MALLOC_ARENA_MAX: MALLOC_ARENAS },
    })
    expect(wantedStart({ execArgv: ALL, env: { MALLOC_ARENA_MAX: undefined } })?.execArgv).toEqual(
      ALL,
    )
  })
})
