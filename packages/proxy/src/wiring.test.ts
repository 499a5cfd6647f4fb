import { noise } from "@chainsafe/libp2p-noise"
import { yamux } from "@chainsafe/libp2p-yamux"
import { tcp } from "@libp2p/tcp"
import { Effect } from "effect"
import { createLibp2p } from "libp2p"
import { describe, expect, it } from "vitest"

describe("workspace wiring", () => {
  it("runs on Node 24", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
  })

  it("starts a libp2p node with tcp, noise and yamux on loopback", async () => {
    const addrs = await Effect.runPromise(
      Effect.acquireUseRelease(
        Effect.promise(() =>
          createLibp2p({
            addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
            transports: [tcp()],
            connectionEncrypters: [noise()],
            streamMuxers: [yamux()],
          }),
        ),
        (node) => Effect.sync(() => node.getMultiaddrs().map((a) => a.toString())),
        (node) => Effect.promise(async () => node.stop()),
      ),
    )
    expect(addrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
  })
})
