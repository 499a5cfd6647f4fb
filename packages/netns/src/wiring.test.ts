import { Effect } from "effect"
import { execa } from "execa"
import { describe, expect, it } from "vitest"

describe("workspace wiring", () => {
  it("runs on Node 24", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
  })

  it("runs a child process through effect and execa", async () => {
    const result = await Effect.runPromise(
      Effect.promise(() => execa(process.execPath, ["-e", "process.stdout.write('ok')"])),
    )
    expect(result.stdout).toBe("ok")
  })
})
