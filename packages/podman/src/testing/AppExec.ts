/**
 * Running a command inside an app container, for tests and tools (see AppExec.ts for how and why
 * with nsenter).
 */
import { Effect } from "effect"
import { execa } from "execa"
import { type AppProcesses, appExecArgv } from "../AppExec.js"
import { PodmanClient } from "../PodmanClient.js"
import type { ExecResult } from "../Requests.js"

export { type AppProcesses, appExecArgv }

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
