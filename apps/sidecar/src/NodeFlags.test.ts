import { proxyNodeFlags } from "@beemesh/proxy"
import { describe, expect, it } from "vitest"
import { RUNTIME_V8_FLAGS } from "./HeapGrowth"
import { SIDECAR_NODE_FLAGS } from "./NodeFlags"

describe("the sidecar's node flags", () => {
  it("are the proxy's flags, each either on the command line or set at run time", () => {
    expect([...SIDECAR_NODE_FLAGS, ...RUNTIME_V8_FLAGS].sort()).toEqual(
      [...proxyNodeFlags, ...RUNTIME_V8_FLAGS.filter((f) => !proxyNodeFlags.includes(f))].sort(),
    )
    expect(SIDECAR_NODE_FLAGS).toEqual(["--max-semi-space-size=1"])
  })
})
