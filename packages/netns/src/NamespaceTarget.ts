/**
 * A network namespace to act on: a namespace file (`/run/netns/<name>`, `/proc/<pid>/ns/net`)
 * or a process. Rootless namespaces are owned by a user namespace, which must be entered first to
 * hold capabilities there: give its path (`userns`) or, for a process, `userns: true`.
 */
export type NamespaceTarget =
  | { readonly path: string; readonly userns?: string }
  | { readonly pid: number; readonly userns?: boolean }

/** A user to run a command as inside the namespace (the sidecar's UID, for example). */
export interface RunAs {
  readonly uid: number
  readonly gid?: number
}
