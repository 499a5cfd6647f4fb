import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Resolution from "./Resolution"

describe("Resolution", () => {
  it("a watch's path carries the version held, encoded", () => {
    expect(Resolution.watchPath("shop", "web", "a+b/c=")).toBe(
      "/v1/services/shop/web?wait=a%2Bb%2Fc%3D",
    )
    expect(
      new URL(`http://h${Resolution.watchPath("shop", "web", "a+b/c=")}`).searchParams.get(
        Resolution.WAIT_PARAMETER,
      ),
    ).toBe("a+b/c=")
  })

  it("an answer without a version (an agent without watches) is still an answer", () => {
    const decode = Schema.decodeUnknownSync(Resolution.ResolveResponse)
    expect(decode({ providers: [] })).toEqual({ providers: [] })
    expect(decode({ providers: [], version: "v1" })).toEqual({ providers: [], version: "v1" })
    expect(() => decode({ providers: [], version: 1 })).toThrow()
  })
})
