/** `GET /v1/peers` (operator): the libp2p node's open connections and its DHT routing table. */
import type { Libp2pNodeShape } from "@beemesh/registry"
import { Hono } from "hono"
import { operatorOnly } from "./OperatorAuth"

export interface PeerConnection {
  readonly peerId: string
  readonly address: string
  readonly direction: "inbound" | "outbound"
  /** Milliseconds since the epoch. */
  readonly openedAt: number
}

export interface PeersView {
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly dhtRoutingTableSize: number
  readonly connections: ReadonlyArray<PeerConnection>
}

/** What the node knows now (open connections only). */
export const peersView = (host: Libp2pNodeShape): PeersView => ({
  peerId: host.peerId.toString(),
  multiaddrs: host.multiaddrs().map(String),
  dhtRoutingTableSize: host.routingTableSize(),
  connections: host.node
    .getConnections()
    .filter((c) => c.status === "open")
    .map((c) => ({
      peerId: c.remotePeer.toString(),
      address: c.remoteAddr.toString(),
      direction: c.direction,
      openedAt: c.timeline.open,
    })),
})

export const peersRoutes = (options: {
  readonly operatorToken: string
  readonly peers: () => PeersView
}) => new Hono().get("/", operatorOnly(options.operatorToken), (c) => c.json(options.peers()))
