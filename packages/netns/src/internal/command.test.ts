import { describe, expect, it } from "@effect/vitest"
import { notExecutable } from "./command.js"

describe("notExecutable", () => {
  it("reads the program a wrapper could not start from its message", () => {
    expect(
      notExecutable("unshare: failed to execute nft: No such file or directory\n", "nft"),
    ).toBe("nft")
    expect(notExecutable("nsenter: nft: No such file or directory", "nft")).toBe("nft")
  })

  it("is undefined for other failures", () => {
    expect(notExecutable("Error: Could not process rule: Operation not supported", "nft")).toBe(
      undefined,
    )
  })
})
