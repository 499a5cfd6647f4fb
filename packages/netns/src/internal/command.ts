import { Effect } from "effect"
import { execa } from "execa"
import { type CommandError, CommandFailed, CommandNotFound, CommandTimedOut } from "../Errors.js"
import type { HostToolsShape } from "../HostTools.js"

/** Where each program comes from on Debian 12, for fix hints. */
const INSTALL_HINTS: Record<string, string> = {
  slirp4netns: "apt-get install slirp4netns (or tooling/scripts/host-setup.sh)",
  nft: "apt-get install nftables (or tooling/scripts/host-setup.sh)",
  ip: "apt-get install iproute2 (or tooling/scripts/host-setup.sh)",
  nsenter: "apt-get install util-linux",
  unshare: "apt-get install util-linux",
  setpriv: "apt-get install util-linux",
  sysctl: "apt-get install procps",
  newuidmap: "apt-get install uidmap (or tooling/scripts/host-setup.sh)",
}

export interface RunOptions {
  readonly input?: string
  /** Default 30 s: every host command here is quick; a hang is a fault worth reporting. */
  readonly timeoutMs?: number
}

export interface CommandResult {
  readonly stdout: string
  readonly stderr: string
}

export const envFor = (tools: HostToolsShape) =>
  tools.searchPath === undefined ? {} : { env: { PATH: tools.searchPath } }

export const searchPathOf = (tools: HostToolsShape) => tools.searchPath ?? "(inherited)"

export const notFound = (tools: HostToolsShape, command: string) =>
  new CommandNotFound({
    command,
    searchPath: searchPathOf(tools),
    hint: INSTALL_HINTS[command.split("/").pop() ?? command] ?? `install ${command}`,
  })

/**
 * The program a wrapper (unshare, nsenter) could not start because it is not on PATH, read from
 * its message ("unshare: failed to execute nft: No such file or directory"), if that is the case.
 */
export const notExecutable = (stderr: string, program: string): string | undefined =>
  /failed to execute (\S+): No such file or directory/.exec(stderr)?.[1] ??
  (stderr.includes(`${program}: No such file or directory`) ? program : undefined)

/** Runs a program to completion (argument array, no shell); interruption kills it. */
export const run = (
  tools: HostToolsShape,
  argv: readonly [string, ...Array<string>],
  options: RunOptions = {},
): Effect.Effect<CommandResult, CommandError> => {
  const [file, ...args] = argv
  const timeoutMs = options.timeoutMs ?? 30_000
  return Effect.promise((signal) =>
    execa(file, args, {
      ...envFor(tools),
      reject: false,
      timeout: timeoutMs,
      cancelSignal: signal,
      ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
    }),
  ).pipe(
    Effect.flatMap((result): Effect.Effect<CommandResult, CommandError> => {
      if (result.code === "ENOENT" && result.exitCode === undefined) {
        return Effect.fail(notFound(tools, file))
      }
      if (result.timedOut) {
        return Effect.fail(new CommandTimedOut({ command: argv, timeoutMs }))
      }
      if (result.failed) {
        return Effect.fail(
          new CommandFailed({
            command: argv,
            exitCode: result.exitCode,
            stderr: String(result.stderr ?? result.message),
          }),
        )
      }
      return Effect.succeed({ stdout: String(result.stdout), stderr: String(result.stderr) })
    }),
  )
}
