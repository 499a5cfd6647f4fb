/**
 * Rootless pods with slirp4netns forwarding their published port (`port_handler=slirp4netns`):
 * rootless Podman puts each pod's slirp4netns API socket at
 * `$XDG_RUNTIME_DIR/libpod/tmp/<64-hex container id>.net`, and slirp4netns refuses a unix socket
 * path of 108 bytes or more ("the specified API socket path is too long"), which fails every
 * pod's start. Checked when the agent starts (and by `doctor`), where it can still say the fix.
 * Rootful Podman's tmp dir (`/run/libpod` by default) is short; one moved by containers.conf's
 * `tmp_dir` is not visible to the agent.
 */
import { join } from "node:path"
import type { SlirpOptions } from "@beemesh/netns"

export const API_SOCKET_CHECK_NAME = "slirp-api-socket"

/** The longest unix socket path (`sun_path` holds 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107

export interface ApiSocketCheck {
  readonly name: typeof API_SOCKET_CHECK_NAME
  readonly ok: boolean
  readonly detail: string
  /** How to fix a failure. */
  readonly hint?: string
}

/** The longest API socket path rootless Podman gives a pod's slirp4netns under `runtimeDir`. */
export const rootlessApiSocketPath = (runtimeDir: string) =>
  join(runtimeDir, "libpod/tmp", `${"0".repeat(64)}.net`)

/**
 * The check for a rootless agent (`uid` not 0) whose pods have slirp4netns as port handler;
 * undefined where it does not apply (rootful, rootlesskit, no XDG_RUNTIME_DIR: Podman then fails
 * on its own, and `doctor`'s unshare check names that).
 */
export const checkApiSocket = (
  slirp: SlirpOptions,
  uid: number,
  xdgRuntimeDir: string | undefined,
): ApiSocketCheck | undefined => {
  if (uid === 0 || slirp.portHandler !== "slirp4netns" || xdgRuntimeDir === undefined)
    return undefined
  const path = rootlessApiSocketPath(xdgRuntimeDir)
  const bytes = Buffer.byteLength(path)
  return bytes <= MAX_SOCKET_PATH_BYTES
    ? {
        name: API_SOCKET_CHECK_NAME,
        ok: true,
        detail: `slirp4netns API sockets fit under XDG_RUNTIME_DIR (${bytes} of ${MAX_SOCKET_PATH_BYTES} bytes)`,
      }
    : {
        name: API_SOCKET_CHECK_NAME,
        ok: false,
        detail: `Podman would put each pod's slirp4netns API socket at ${path} (${bytes} bytes), longer than a unix socket path may be (${MAX_SOCKET_PATH_BYTES}), and every pod would fail to start`,
        hint: `give the agent an XDG_RUNTIME_DIR of at most ${MAX_SOCKET_PATH_BYTES - (bytes - Buffer.byteLength(xdgRuntimeDir))} bytes (e.g. /run/user/${uid}), or let Podman's rootlessport forward the ports (--slirp port_handler=rootlesskit)`,
      }
}
