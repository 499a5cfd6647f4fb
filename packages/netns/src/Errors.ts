/** Failures of the host commands this package runs (ip, nsenter, unshare, nft, slirp4netns). */
import { Data } from "effect"

/** A required program is not installed (or not on the search path). */
export class CommandNotFound extends Data.TaggedError("CommandNotFound")<{
  readonly command: string
  readonly searchPath: string
  readonly hint: string
}> {
  override get message() {
    return `${this.command} not found on PATH ${this.searchPath}; fix: ${this.hint}`
  }
}

/** A program ran and exited with a failure. */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly command: ReadonlyArray<string>
  readonly exitCode: number | undefined
  readonly stderr: string
}> {
  override get message() {
    return `\`${this.command.join(" ")}\` failed (exit ${this.exitCode ?? "signal"}): ${this.stderr.trim() || "(no stderr)"}`
  }
}

/** A program did not finish within its time limit and was killed. */
export class CommandTimedOut extends Data.TaggedError("CommandTimedOut")<{
  readonly command: ReadonlyArray<string>
  readonly timeoutMs: number
}> {
  override get message() {
    return `\`${this.command.join(" ")}\` did not finish within ${this.timeoutMs} ms`
  }
}

export type CommandError = CommandNotFound | CommandFailed | CommandTimedOut

/** slirp4netns is missing, too old, or lacks a feature the options need. */
export class SlirpUnavailable extends Data.TaggedError("SlirpUnavailable")<{
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `slirp4netns unavailable: ${this.reason}; fix: ${this.hint}`
  }
}
