/**
 * External commands as argument arrays (never shell strings), asynchronous so that a listener this
 * process serves keeps answering, each with a timeout.
 */
import { execFile } from "node:child_process"
import { CommandFailed } from "./errors"

export interface RunResult {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly timeoutMs?: number
  readonly env?: Readonly<Record<string, string>>
}

/** Runs a command and returns its status and output; fails only when it cannot start or times out. */
export const run = (argv: ReadonlyArray<string>, options: RunOptions = {}) =>
  new Promise<RunResult>((resolve, reject) => {
    const [command, ...args] = argv
    execFile(
      command!,
      args,
      {
        encoding: "utf8",
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 64 * 1024 * 1024,
        ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          return reject(
            new CommandFailed(
              argv,
              error.killed ? "timed out" : String(error.code),
              stderr || error.message,
            ),
          )
        }
        resolve({ status: error === null ? 0 : Number(error.code), stdout, stderr })
      },
    )
  })

/** Runs a command that must succeed; returns its trimmed stdout. */
export const must = async (argv: ReadonlyArray<string>, options: RunOptions = {}) => {
  const result = await run(argv, options)
  if (result.status !== 0) throw new CommandFailed(argv, result.status, result.stderr)
  return result.stdout.trim()
}

/** The argument prefix that runs a command in a named network namespace (and nothing else). */
export const inNetns = (netns: string, argv: ReadonlyArray<string>) => [
  "nsenter",
  `--net=/run/netns/${netns}`,
  ...argv,
]
