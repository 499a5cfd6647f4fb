/**
 * How a Beemesh process runs its main program: in a scope that SIGTERM or SIGINT closes
 * gracefully, with one set of exit codes for every app.
 */
import { Effect, type Scope } from "effect"
import { ExitCode } from "./ExitCode.js"
import { outcomeOf } from "./internal/outcome.js"

export interface RunMainOptions<E> {
  /** Prefixes every line the runner writes to stderr, e.g. `beemesh-agent`. */
  readonly name: string
  /** The exit code of a typed failure (default {@link ExitCode.failure}). */
  readonly exitCode?: (error: E) => number
  /**
   * After a signal, the process exits with {@link ExitCode.failure} by this deadline even if a
   * release step hangs. Default: no deadline.
   */
  readonly hardExitMs?: number
}

/** Where the runner meets the process; the process itself unless a test hands in another. */
export interface ProcessPort {
  readonly onSignal: (signal: NodeJS.Signals, handler: () => void) => void
  readonly stderr: (text: string) => void
  readonly exit: (code: number) => void
}

const nodeProcess: ProcessPort = {
  onSignal: (signal, handler) => {
    process.on(signal, handler)
  },
  stderr: (text) => {
    process.stderr.write(text)
  },
  exit: (code) => process.exit(code),
}

/**
 * Runs `program` as the process's main: its scope closes on the first SIGTERM or SIGINT (later
 * ones are ignored), then the process exits with the program's exit code. The only
 * `runFork` of an app: call it from `main.ts`.
 */
export const runMain = <E>(
  program: Effect.Effect<number | undefined, E, Scope.Scope>,
  options: RunMainOptions<E>,
  port: ProcessPort = nodeProcess,
): void => {
  // A program that only waits (for a signal, say) holds no handle of its own: without this timer
  // Node would find its event loop empty and exit 0 behind the program's back.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  let signalled = false
  const stop = (signal: NodeJS.Signals) => {
    if (signalled) return
    signalled = true
    port.stderr(`${options.name}: ${signal}, shutting down\n`)
    if (options.hardExitMs !== undefined) {
      const deadline = options.hardExitMs
      setTimeout(() => {
        port.stderr(`${options.name}: shutdown did not finish within ${deadline} ms, exiting\n`)
        port.exit(ExitCode.failure)
      }, deadline).unref()
    }
    fiber.interruptUnsafe()
  }
  // Handlers first: a signal arriving while the program starts must not kill the process unreleased.
  port.onSignal("SIGTERM", () => stop("SIGTERM"))
  port.onSignal("SIGINT", () => stop("SIGINT"))
  const fiber = Effect.runFork(Effect.scoped(program))
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    const outcome = outcomeOf(exit, options.exitCode)
    if (outcome.message !== undefined) port.stderr(`${options.name}: ${outcome.message}\n`)
    port.exit(outcome.code)
  })
}
