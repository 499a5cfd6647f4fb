/**
 * Circuit relay v2 for hosts behind NAT. A reachable node runs a relay server; a node that cannot
 * be dialled reserves a slot at one or more relays (by explicit address: the operator knows which
 * hosts sit behind a NAT, while AutoNAT needs several reachable peers to agree before it concludes
 * anything, which a small mesh may not have) and is reached at `<relay>/p2p-circuit/p2p/<self>`.
 * Relayed connections stay end-to-end Noise-encrypted: the relay forwards ciphertext.
 */
import type { CircuitRelayServerInit } from "@libp2p/circuit-relay-v2"
import { multiaddr } from "@multiformats/multiaddr"

/** Limits of a node's relay server. */
export interface RelayServerOptions {
  /**
   * Peers holding a slot at once. libp2p's default (15) is below the sidecars of a single NATed
   * host; each pod behind a NAT holds one. Default 256.
   */
  readonly maxReservations?: number
  /** Lifetime of a slot; the holder refreshes it before it ends. Default 2 h (libp2p's). */
  readonly reservationTtlMs?: number
  /**
   * Cap on the duration and bytes of one relayed connection. The relay carries the mesh's own
   * service calls, which a circuit-relay default of 2 min and 128 KiB would cut mid-request, so
   * by default relayed connections are not capped (only slots and streams are).
   */
  readonly connectionLimit?: { readonly durationMs: number; readonly bytes: bigint }
  /** Relayed connections being set up at once (inbound HOP streams). Default 64. */
  readonly maxHopStreams?: number
}

export const DEFAULT_MAX_RESERVATIONS = 256
export const DEFAULT_MAX_HOP_STREAMS = 64

/** The relay server's settings in libp2p's terms. */
export const relayServerInit = (options: RelayServerOptions = {}): CircuitRelayServerInit => ({
  maxInboundHopStreams: options.maxHopStreams ?? DEFAULT_MAX_HOP_STREAMS,
  reservations: {
    maxReservations: options.maxReservations ?? DEFAULT_MAX_RESERVATIONS,
    ...(options.reservationTtlMs === undefined ? {} : { reservationTtl: options.reservationTtlMs }),
    ...(options.connectionLimit === undefined
      ? { applyDefaultLimit: false }
      : {
          applyDefaultLimit: true,
          defaultDurationLimit: options.connectionLimit.durationMs,
          defaultDataLimit: options.connectionLimit.bytes,
        }),
  },
})

/** Why a relay address cannot be used, or undefined when it can. */
export const relayAddressProblem = (address: string): string | undefined => {
  let parsed: ReturnType<typeof multiaddr>
  try {
    parsed = multiaddr(address)
  } catch (cause) {
    return `"${address}" is not a multiaddr (${cause instanceof Error ? cause.message : String(cause)})`
  }
  const names = parsed.getComponents().map((c) => c.name)
  if (names.includes("p2p-circuit"))
    return `"${address}" is already a circuit address; give the relay's own address`
  if (names.at(-1) !== "p2p")
    return `"${address}" must end with the relay's peer id (/p2p/<id>), so the reservation is made with that peer and no other`
  return undefined
}

/** The address a node with a slot at `relay` is reached at. */
export const circuitAddress = (relay: string, peerId: string): string =>
  `${relay}/p2p-circuit/p2p/${peerId}`

/** Whether a connection's remote address goes through a relay. */
export const isRelayed = (address: { toString(): string }): boolean =>
  address.toString().includes("/p2p-circuit")
