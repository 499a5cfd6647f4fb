/** The harness's failures, each saying what was attempted and what to do about it. */

/** An external command exited non-zero or could not start. */
export class CommandFailed extends Error {
  override readonly name = "CommandFailed"
  constructor(
    readonly argv: ReadonlyArray<string>,
    readonly status: number | string,
    readonly stderr: string,
  ) {
    super(`${argv.join(" ")} failed (${status}): ${stderr.trim().slice(-800)}`)
  }
}

/** A wait strategy ran out of time; `what` names what was awaited, `last` what was seen last. */
export class WaitTimedOut extends Error {
  override readonly name = "WaitTimedOut"
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly last: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`)
  }
}

/** Something the harness needs is missing from this machine. */
export class PrerequisiteMissing extends Error {
  override readonly name = "PrerequisiteMissing"
  constructor(readonly missing: ReadonlyArray<string>) {
    super(`simulated hosts need:\n  ${missing.join("\n  ")}`)
  }
}

/** A process the harness started exited before it was ready. */
export class ProcessExited extends Error {
  override readonly name = "ProcessExited"
  constructor(
    readonly what: string,
    readonly logFile: string,
    readonly tail: string,
  ) {
    super(`${what} exited before it was ready; its log (${logFile}) ends with:\n${tail}`)
  }
}
