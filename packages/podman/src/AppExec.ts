/**
 * How to run a command inside an app container. `podman exec` cannot: runc 1.1 joins the app's
 * user namespace first and then may not join the pod's network namespace, which another user
 * namespace owns. util-linux nsenter enters every other namespace first and the user namespace
 * last. Rootless, it first enters Podman's user namespace (the holder's), where it is root. The
 * command runs as root of the app's user namespace with all capabilities there, no seccomp filter
 * and outside the container's cgroup: for trusted commands only (the operator's exec probes, tests).
 */

export interface AppProcesses {
  /** The app container's PID (its namespaces are entered). */
  readonly appPid: number
  /** The holder's PID (rootless: its user namespace is Podman's, entered first). */
  readonly holderPid: number
  readonly rootless: boolean
}

/** The argument vector that runs `cmd` in the app container's namespaces. */
export const appExecArgv = (
  target: AppProcesses,
  cmd: ReadonlyArray<string>,
): [string, ...Array<string>] =>
  [
    ...(target.rootless ? ["nsenter", `--user=/proc/${target.holderPid}/ns/user`, "--"] : []),
    "nsenter",
    `--target=${target.appPid}`,
    "--all",
    "--",
    ...cmd,
  ] as [string, ...Array<string>]
