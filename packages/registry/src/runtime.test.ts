import { kadDHT } from "@libp2p/kad-dht"
import { createLibp2p } from "libp2p"
import { describe, expect, it } from "vitest"

describe("runtime", () => {
  it("runs on the project's Node 24 (libp2p 3 needs it) with libp2p and kad-dht importable", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
    expect(typeof createLibp2p).toBe("function")
    expect(typeof kadDHT).toBe("function")
  })
})
