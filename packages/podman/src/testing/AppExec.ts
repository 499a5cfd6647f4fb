/**
 * Running a command inside an app container, for tests and tools. `podman exec` cannot: runc 1.1
 * joins the app's user namespace first and then may not join the pod's network namespace, which
 * another user namespace owns. util-linux nsenter enters every other namespace first and the user
 * namespace last. Rootless, it first enters Podman's user namespace (the holder's), where it is
 * root. The command runs as root of the app's user namespace with all capabilities there, no
 * seccomp filter and outside the container's cgroup: for trusted commands only.
 */
import { Effect } from "effect"
import { execa } from "execa"
import { PodmanClient } from "../PodmanClient.js"
import type { ExecResult } from "../Requests.js"

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

/** Runs `cmd` in a running app container of a pod (by their Podman names); a timeout bounds it. */
export const execInApp = (
  pod: { readonly holder: string },
  container: string,
  cmd: ReadonlyArray<string>,
  options: { readonly rootless?: boolean; readonly timeoutMs?: number } = {},
): Effect.Effect<ExecResult, unknown, PodmanClient> =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const app = yield* client.containers.inspect(container)
    const holder = yield* client.containers.inspect(pod.holder)
    const [file, ...args] = appExecArgv(
      { appPid: app.State.Pid, holderPid: holder.State.Pid, rootless: options.rootless ?? false },
      cmd,
    )
    const result = yield* Effect.promise((signal) =>
      execa(file, args, {
        reject: false,
        timeout: options.timeoutMs ?? 30_000,
        cancelSignal: signal,
        stdin: "ignore",
        stripFinalNewline: false,
      }),
    )
    return {
      exitCode: result.exitCode ?? -1,
      stdout: String(result.stdout),
      stderr: String(result.stderr),
    }
  })
