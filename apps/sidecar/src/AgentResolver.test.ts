import { generateKeyPair } from "@libp2p/crypto/keys"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { describe, expect, it } from "vitest"
import { toProviders } from "./AgentResolver"

describe("toProviders", () => {
  it("converts the agent's providers and drops the ones that do not parse", async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()
    const { providers, dropped } = toProviders([
      { peerId: peer, multiaddrs: ["/ip4/127.0.0.1/tcp/4001"], pod: "b-0", workload: "b" },
      { peerId: "not-a-peer-id", multiaddrs: [], pod: "b-1", workload: "b" },
      { peerId: peer, multiaddrs: ["garbage"], pod: "b-2", workload: "b" },
    ])
    expect(providers.map((p) => [p.peerId.toString(), p.multiaddrs.map(String)])).toEqual([
      [peer, ["/ip4/127.0.0.1/tcp/4001"]],
    ])
    expect(dropped).toHaveLength(2)
    expect(dropped[0]).toContain("b-1")
    expect(dropped[1]).toContain("b-2")
  })
})
