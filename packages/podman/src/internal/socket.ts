/**
 * Where a Podman API socket may be: an explicit path, `CONTAINER_HOST` (handed in by the caller;
 * libraries do not read the environment), then the rootful and rootless defaults.
 */

export interface SocketCandidate {
  readonly path: string
  /** Why this path is tried: `option`, `CONTAINER_HOST`, `rootful default`, `rootless default`. */
  readonly source: string
}

export interface SocketDiscoveryOptions {
  readonly socketPath?: string | undefined
  /** The value of `CONTAINER_HOST` as the application read it, e.g. `unix:///run/podman/podman.sock`. */
  readonly containerHost?: string | undefined
  /** The caller's uid; decides which default comes first. */
  readonly uid: number
  /** `$XDG_RUNTIME_DIR` as the application read it; defaults to `/run/user/<uid>`. */
  readonly xdgRuntimeDir?: string | undefined
  /** Add the rootful/rootless default paths (default true). */
  readonly searchDefaults?: boolean | undefined
}

export const ROOTFUL_SOCKET = "/run/podman/podman.sock"

/** `unix:///path` or `unix:/path` → `/path`; other schemes (ssh, tcp) are not supported here. */
export const parseContainerHost = (value: string): string | undefined => {
  const match = /^unix:(?:\/\/)?(\/.+)$/.exec(value.trim())
  return match?.[1]
}

export const socketCandidates = (options: SocketDiscoveryOptions): Array<SocketCandidate> => {
  const out: Array<SocketCandidate> = []
  const add = (path: string | undefined, source: string) => {
    if (path !== undefined && !out.some((c) => c.path === path)) out.push({ path, source })
  }
  add(options.socketPath, "option")
  if (options.containerHost !== undefined)
    add(parseContainerHost(options.containerHost), "CONTAINER_HOST")
  if (options.searchDefaults === false) return out
  const rootless = `${options.xdgRuntimeDir ?? `/run/user/${options.uid}`}/podman/podman.sock`
  if (options.uid === 0) {
    add(ROOTFUL_SOCKET, "rootful default")
  } else {
    add(rootless, "rootless default")
    add(ROOTFUL_SOCKET, "rootful default")
  }
  return out
}
