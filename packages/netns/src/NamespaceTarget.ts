/**
 * A network namespace to act on: a namespace file (`/run/netns/<name>`, `/proc/<pid>/ns/net`)
 * or a process. Rootless namespaces are owned by a user namespace, which must be entered first to
 * hold capabilities there: give its path (`userns`) or, for a process, `userns: true`.
 */
import type { HostToolsShape } from "./HostTools.js"

export type NamespaceTarget =
  | { readonly path: string; readonly userns?: string }
  | { readonly pid: number; readonly userns?: boolean }

export interface ResolvedTarget {
  readonly netns: string
  readonly userns: string | undefined
}

export const resolveTarget = (target: NamespaceTarget): ResolvedTarget =>
  "path" in target
    ? { netns: target.path, userns: target.userns }
    : {
        netns: `/proc/${target.pid}/ns/net`,
        userns: target.userns === true ? `/proc/${target.pid}/ns/user` : undefined,
      }

export const describeTarget = (target: NamespaceTarget): string => {
  const { netns, userns } = resolveTarget(target)
  return userns === undefined ? netns : `${netns} (user namespace ${userns})`
}

/** A user to run a command as inside the namespace (the sidecar's UID, for example). */
export interface RunAs {
  readonly uid: number
  readonly gid?: number
}

/**
 * The argument vector that runs `argv` inside the namespace. nsenter, not `ip netns exec`:
 * the latter remounts /sys and hides the cgroup mounts, and runc then fails.
 */
export const enterArgv = (
  tools: HostToolsShape,
  target: NamespaceTarget,
  argv: ReadonlyArray<string>,
  runAs?: RunAs,
): [string, ...Array<string>] => {
  const { netns, userns } = resolveTarget(target)
  return [
    tools.nsenter,
    ...(userns === undefined ? [] : [`--user=${userns}`]),
    `--net=${netns}`,
    "--",
    ...(runAs === undefined
      ? []
      : [
          tools.setpriv,
          `--reuid=${runAs.uid}`,
          `--regid=${runAs.gid ?? runAs.uid}`,
          "--clear-groups",
          "--",
        ]),
    ...argv,
  ]
}
