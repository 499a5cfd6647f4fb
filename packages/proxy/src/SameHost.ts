/**
 * The same-host path: sidecars of one host also listen on a unix socket in a directory that only
 * they share, and a caller dials a provider there instead of its published TCP port when it can
 * tell the socket is that provider's. The connection is the same libp2p connection (Noise +
 * Yamux over the TCP transport, on a unix socket instead of a TCP one), so the provider's peer id
 * is still verified; what it skips is the pods' slirp4netns.
 *
 * A socket is named `<prefix>.<peer id>`: the caller trusts only a socket in its own directory
 * whose name ends in the provider's peer id, so an address registered by a sidecar of another
 * host, or of another agent on this host (whose directory is not this one), is never dialled.
 */
import { lstat } from "node:fs/promises"
import { basename, dirname } from "node:path"
import type { PeerId } from "@libp2p/interface"
import { CODE_UNIX, type Multiaddr, multiaddr } from "@multiformats/multiaddr"

/** Longest unix socket path Linux accepts (`sun_path` is 108 bytes with its terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107

/** Where a sidecar with `peerId` listens in `directory`; `prefix` names its pod (see the agent). */
export const socketPath = (directory: string, prefix: string, peerId: string): string =>
  `${directory.replace(/\/+$/, "")}/${prefix}.${peerId}`

/** The libp2p listen address of a unix socket path. */
export const unixAddress = (path: string): Multiaddr =>
  multiaddr(`/unix/${encodeURIComponent(path)}`)

/** The socket path of a `/unix/…` multiaddr; undefined for any other address. */
export const unixPathOf = (address: Multiaddr): string | undefined =>
  address.getComponents().find((c) => c.code === CODE_UNIX)?.value

/**
 * The provider's unix socket path if its registered addresses name one this caller may dial: in
 * `directory` and named for the provider's peer id (pure; whether it exists is `localAddressOf`).
 */
export const attributablePath = (
  addresses: ReadonlyArray<Multiaddr>,
  peerId: PeerId | string,
  directory: string,
): string | undefined => {
  const id = peerId.toString()
  const own = directory.replace(/\/+$/, "")
  for (const address of addresses) {
    const path = unixPathOf(address)
    if (path !== undefined && dirname(path) === own && basename(path).endsWith(`.${id}`))
      return path
  }
  return undefined
}

/**
 * The address to dial a provider at on this host: its attributable socket, if that exists as a
 * socket now (a pod removed with its socket, or on another host, has none), with the peer id
 * the connection must prove; undefined otherwise.
 */
export const localAddressOf = async (
  addresses: ReadonlyArray<Multiaddr>,
  peerId: PeerId | string,
  directory: string,
): Promise<Multiaddr | undefined> => {
  const path = attributablePath(addresses, peerId, directory)
  if (path === undefined) return undefined
  const stat = await lstat(path).catch(() => undefined)
  return stat?.isSocket() === true
    ? unixAddress(path).encapsulate(`/p2p/${peerId.toString()}`)
    : undefined
}
