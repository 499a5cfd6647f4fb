import type { Libp2p } from "@libp2p/interface"
import { Context, Layer } from "effect"

/**
 * The libp2p node the proxy runs on. The proxy never starts or stops it: its owner (the sidecar,
 * or a test) does, and provides it here. It must have TCP + Noise + Yamux; see
 * `proxyYamuxOptions` and `proxyConnectionManagerOptions` for the limits the proxy needs.
 */
export class Libp2pNode extends Context.Service<Libp2pNode, Libp2p>()("@beemesh/proxy/Libp2pNode") {
  static layer(node: Libp2p): Layer.Layer<Libp2pNode> {
    return Layer.succeed(Libp2pNode, node)
  }
}
