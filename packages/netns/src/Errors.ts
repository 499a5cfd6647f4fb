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

/** Where each program comes from on Debian 12, for fix hints. */
export const INSTALL_HINTS: Record<string, string> = {
  slirp4netns: "apt-get install slirp4netns (or tooling/scripts/host-setup.sh)",
  nft: "apt-get install nftables (or tooling/scripts/host-setup.sh)",
  ip: "apt-get install iproute2 (or tooling/scripts/host-setup.sh)",
  nsenter: "apt-get install util-linux",
  unshare: "apt-get install util-linux",
  setpriv: "apt-get install util-linux",
  sysctl: "apt-get install procps",
  newuidmap: "apt-get install uidmap (or tooling/scripts/host-setup.sh)",
}
