import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { tcp } from "@libp2p/tcp"
import { createLibp2p } from "libp2p"
import { describe, expect, it } from "vitest"

describe("runtime", () => {
  it("runs on the project's Node 24 (libp2p 3 needs it) with the transport stack importable", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
    for (const factory of [createLibp2p, tcp, noise, yamux]) expect(typeof factory).toBe("function")
  })
})
