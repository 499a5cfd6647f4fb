/** How a finished main program maps onto an exit code and a line for the operator. */
import { Cause, Exit } from "effect"
import { ExitCode } from "../ExitCode.js"

export interface Outcome {
  readonly code: number
  /** What to tell the operator on stderr, when anything. */
  readonly message?: string
}

/**
 * The exit code and message of a finished program: its number (or 0) on success, 0 when only
 * interrupted (a signal), the failure's code and message otherwise, 1 with the cause for a defect.
 */
export const outcomeOf = <E>(
  exit: Exit.Exit<number | undefined, E>,
  exitCode: (error: E) => number = () => ExitCode.failure,
): Outcome => {
  if (Exit.isSuccess(exit)) return { code: exit.value ?? ExitCode.ok }
  if (Cause.hasInterruptsOnly(exit.cause)) return { code: ExitCode.ok }
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure?._tag === "Fail") {
    const error = failure.error
    const message =
      typeof error === "object" && error !== null && "message" in error
        ? String(error.message)
        : Cause.pretty(exit.cause)
    return { code: exitCode(error), message }
  }
  return { code: ExitCode.failure, message: Cause.pretty(exit.cause) }
}
