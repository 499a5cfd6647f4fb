import { describe, expect, it } from "vitest"
import { peerIdOf, withPeerId } from "./RegistryDirectory"

const sidecar = "12D3KooWSidecar"
const relay = "12D3KooWRelay"

describe("registered addresses", () => {
  it("end in the sidecar's peer id, a relayed one after its relay's", () => {
    expect(withPeerId("/ip4/10.77.0.12/tcp/40123", sidecar)).toBe(
      `/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`,
    )
    expect(withPeerId(`/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`, "other")).toBe(
      `/ip4/10.77.0.12/tcp/40123/p2p/${sidecar}`,
    )
    const circuit = `/ip4/10.77.0.11/tcp/4001/p2p/${relay}/p2p-circuit`
    expect(withPeerId(circuit, sidecar)).toBe(`${circuit}/p2p/${sidecar}`)
    expect(peerIdOf(`${circuit}/p2p/${sidecar}`)).toBe(sidecar)
    expect(peerIdOf(circuit)).toBeUndefined()
  })
})
