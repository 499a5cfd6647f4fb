/**
 * The same-host path's socket directory as agent and sidecar agree on it: the agent keeps one
 * directory per host that only sidecar containers get (at `MOUNT`); each sidecar listens there on
 * a unix socket named `<socketPrefix(namespace, pod)>.<its peer id>`. The prefix names the pod,
 * so the agent removes a pod's sockets with the pod; the peer id lets a caller attribute a socket
 * to the provider it resolved (see @beemesh/proxy SameHost).
 */
import { createHash } from "node:crypto"

/** Where a sidecar sees the host's socket directory. */
export const MOUNT = "/run/beemesh/samehost"

/**
 * A pod's socket prefix: a short hash of namespace and pod, because `<directory>/<pod name>.<peer
 * id>` would pass the 107 bytes a unix socket path may have (`MOUNT`, 12 hex digits and an
 * Ed25519 peer id make 87).
 */
export const socketPrefix = (namespace: string, pod: string): string =>
  createHash("sha256").update(`${namespace}/${pod}`).digest("hex").slice(0, 12)

/** Whether a file in the socket directory is one of the pod's sockets. */
export const isSocketOfPod = (fileName: string, namespace: string, pod: string): boolean =>
  fileName.startsWith(`${socketPrefix(namespace, pod)}.`)

/**
 * The socket of the sidecar with `peerId` of `pod` in `directory` (the host's directory as this
 * process sees it: `MOUNT` inside a sidecar). The name ends in `.<peer id>`, which is how a caller
 * attributes a socket to the provider it resolved.
 */
export const socketPath = (
  directory: string,
  namespace: string,
  pod: string,
  peerId: string,
): string => `${directory.replace(/\/+$/, "")}/${socketPrefix(namespace, pod)}.${peerId}`

/** The libp2p address (`/unix/<path, URI-encoded>`) of that socket. */
export const socketAddress = (
  directory: string,
  namespace: string,
  pod: string,
  peerId: string,
): string => `/unix/${encodeURIComponent(socketPath(directory, namespace, pod, peerId))}`
