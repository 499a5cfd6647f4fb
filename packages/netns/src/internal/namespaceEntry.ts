/** How commands reach a {@link NamespaceTarget}: the namespace files to enter, and the argv that does. */
import type { HostToolsShape } from "../HostTools.js"
import type { NamespaceTarget, RunAs } from "../NamespaceTarget.js"

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
