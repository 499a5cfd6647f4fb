import { Effect } from "effect"
import { type CommandError, CommandFailed, CommandNotFound, CommandTimedOut } from "../Errors.js"
import type { HostToolsShape } from "../HostTools.js"
import { spawnOffThread } from "./offThread.js"

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

/** Commands' environment: the tools' PATH only, when they give one; else inherited (undefined). */
const environmentOf = (tools: HostToolsShape) =>
  tools.searchPath === undefined ? undefined : { PATH: tools.searchPath }

/** `environmentOf` as a spawn option. */
export const envFor = (tools: HostToolsShape) => {
  const env = environmentOf(tools)
  return env === undefined ? {} : { env }
}

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

/** Output as a value: without the newline that ends a program's last line. */
const withoutFinalNewline = (text: string) => text.replace(/\r?\n$/, "")

/**
 * Runs a program to completion (argument array, no shell); interruption kills it. It is started
 * from a worker thread (offThread.ts): the caller's event loop is never held while it starts.
 */
export const run = (
  tools: HostToolsShape,
  argv: readonly [string, ...Array<string>],
  options: RunOptions = {},
): Effect.Effect<CommandResult, CommandError> => {
  const [file, ...args] = argv
  const timeoutMs = options.timeoutMs ?? 30_000
  return Effect.promise((signal) =>
    spawnOffThread(
      {
        file,
        args,
        env: environmentOf(tools),
        input: options.input,
        timeoutMs,
      },
      signal,
    ),
  ).pipe(
    Effect.flatMap((result): Effect.Effect<CommandResult, CommandError> => {
      if (result.errorCode === "ENOENT") return Effect.fail(notFound(tools, file))
      if (result.timedOut) {
        return Effect.fail(new CommandTimedOut({ command: argv, timeoutMs }))
      }
      if (result.errorCode !== undefined || result.exitCode !== 0) {
        return Effect.fail(
          new CommandFailed({
            command: argv,
            exitCode: result.exitCode,
            stderr:
              result.errorMessage ??
              (result.stderr !== "" || result.signal === undefined
                ? result.stderr
                : `killed by ${result.signal}`),
          }),
        )
      }
      return Effect.succeed({
        stdout: withoutFinalNewline(result.stdout),
        stderr: withoutFinalNewline(result.stderr),
      })
    }),
  )
}
