/**
 * The sidecar's socket in the host's same-host directory (see @beemesh/contract SameHostSockets):
 * where it listens for the other sidecars of its host. Sockets a predecessor of this pod's sidecar
 * left behind (a container killed before it could close its listener) are removed first; the
 * listener itself removes its socket when the node stops. A directory the sidecar cannot write
 * costs only the same-host path: it is logged and the sidecar runs on its network addresses.
 */
import { constants } from "node:fs"
import { access, readdir, unlink } from "node:fs/promises"
import { join } from "node:path"
import { SameHostSockets } from "@beemesh/contract"
import { SameHost } from "@beemesh/proxy"
import { Effect } from "effect"

export interface SameHostPod {
  readonly directory: string
  readonly namespace: string
  readonly pod: string
}

/** The unix path to listen on, or undefined when there is none to use (the reason is logged). */
export const prepareSameHostSocket = Effect.fn("SameHostSocket.prepare")(function* (
  pod: SameHostPod,
  peerId: string,
) {
  const path = SameHostSockets.socketPath(pod.directory, pod.namespace, pod.pod, peerId)
  if (Buffer.byteLength(path) > SameHost.MAX_SOCKET_PATH_BYTES) {
    yield* Effect.logWarning(
      `same-host path off: the socket path ${path} is longer than ${SameHost.MAX_SOCKET_PATH_BYTES} bytes; use a shorter BEEMESH_SAMEHOST_DIR`,
    )
    return undefined
  }
  const usable = yield* Effect.promise(() =>
    access(pod.directory, constants.W_OK | constants.X_OK).then(
      () => undefined,
      (error: Error) => error.message,
    ),
  )
  if (usable !== undefined) {
    yield* Effect.logWarning(
      `same-host path off: cannot create sockets in ${pod.directory} (${usable}); other pods are dialled at their network addresses`,
    )
    return undefined
  }
  const stale = yield* Effect.promise(() =>
    readdir(pod.directory).then(
      (names) => names.filter((n) => SameHostSockets.isSocketOfPod(n, pod.namespace, pod.pod)),
      () => [],
    ),
  )
  yield* Effect.forEach(stale, (name) =>
    Effect.promise(() => unlink(join(pod.directory, name)).catch(() => undefined)),
  )
  return path
})
