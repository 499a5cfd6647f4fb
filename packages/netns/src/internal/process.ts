import type { Readable } from "node:stream"
import { Duration, Effect, type Scope } from "effect"
import { execa } from "execa"
import { CommandFailed, type CommandNotFound } from "../Errors.js"
import type { HostToolsShape } from "../HostTools.js"
import { envFor, notFound } from "./command.js"

export interface ScopedProcess {
  readonly pid: number
  readonly argv: ReadonlyArray<string>
  readonly stdout: Readable
  /** Output collected so far (capped), for error messages. */
  readonly stderrText: () => string
  readonly stdoutText: () => string
  /** Extra pipes at fd 3, 4, … as the child sees them. */
  readonly fds: ReadonlyArray<Readable>
  /** Completes with the exit code (or signal) once the process has exited. */
  readonly exited: Effect.Effect<ProcessExit>
}

export interface ProcessExit {
  readonly exitCode: number | undefined
  readonly signal: string | undefined
}

export interface SpawnOptions {
  /** How many extra pipes to give the child after stdio (fd 3, 4, …). */
  readonly extraFds?: number
  /** Grace period between SIGTERM and SIGKILL on release (default 3 s). */
  readonly stopTimeoutMs?: number
}

const CAP = 64 * 1024
const collector = (stream: Readable | null | undefined) => {
  let text = ""
  stream?.on("data", (chunk: Buffer) => {
    if (text.length < CAP) text += chunk.toString()
  })
  return () => text
}

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Spawns a long-running program in its own process group; releasing the scope sends SIGTERM to
 * the whole group, waits for the exit, and escalates to SIGKILL after the grace period, so no
 * child outlives its scope.
 */
export const spawnScoped = (
  tools: HostToolsShape,
  argv: readonly [string, ...Array<string>],
  options: SpawnOptions = {},
): Effect.Effect<ScopedProcess, CommandNotFound | CommandFailed, Scope.Scope> => {
  const [file, ...args] = argv
  const extra = options.extraFds ?? 0
  const stopTimeoutMs = options.stopTimeoutMs ?? 3000
  return Effect.acquireRelease(
    Effect.gen(function* () {
      const subprocess = execa(file, args, {
        ...envFor(tools),
        detached: true,
        reject: false,
        buffer: false,
        stdio: ["ignore", "pipe", "pipe", ...Array.from({ length: extra }, () => "pipe" as const)],
      })
      const stderrText = collector(subprocess.stderr)
      const stdoutText = collector(subprocess.stdout)
      // The promise settles once, after exit; awaiting it again is free.
      const exited: Effect.Effect<ProcessExit> = Effect.promise(() => subprocess).pipe(
        Effect.map((r) => ({ exitCode: r.exitCode, signal: r.signal })),
      )
      if (subprocess.pid === undefined) {
        const r = yield* Effect.promise(() => subprocess)
        return yield* Effect.fail(
          r.code === "ENOENT"
            ? notFound(tools, file)
            : new CommandFailed({
                command: argv,
                exitCode: undefined,
                stderr: r.message ?? "spawn failed",
              }),
        )
      }
      return {
        pid: subprocess.pid,
        argv,
        stdout: subprocess.stdout!,
        stderrText,
        stdoutText,
        fds: Array.from({ length: extra }, (_, i) => subprocess.stdio[3 + i] as Readable),
        exited,
      } satisfies ScopedProcess
    }),
    (proc) =>
      Effect.gen(function* () {
        killGroup(proc.pid, "SIGTERM")
        const done = yield* proc.exited.pipe(Effect.timeoutOption(Duration.millis(stopTimeoutMs)))
        if (done._tag === "None") {
          killGroup(proc.pid, "SIGKILL")
          yield* proc.exited.pipe(Effect.timeoutOption(Duration.seconds(5)))
        }
        // The group may still hold children that ignored SIGTERM while the leader exited.
        killGroup(proc.pid, "SIGKILL")
      }),
  )
}
