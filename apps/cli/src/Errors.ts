/** What can go wrong in the CLI, each saying what to do about it; `exitCodeOf` maps them. */
import { ExitCode } from "@beemesh/service"
import { Data } from "effect"

/** A wrong command line; the command's --help says the right one. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly command: string
  readonly reason: string
}> {
  override get message() {
    return `${this.reason} (see beemesh ${this.command === "" ? "" : `${this.command} `}--help)`
  }
}

/** The context file cannot be read or written, or names a context that does not exist. */
export class ContextError extends Data.TaggedError("ContextError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `context file ${this.path}: ${this.reason}`
  }
}

/** A manifest file or directory cannot be read. */
export class InputError extends Data.TaggedError("InputError")<{
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `${this.source}: ${this.reason}`
  }
}

export class AgentUnreachable extends Data.TaggedError("AgentUnreachable")<{
  readonly server: string
  readonly origin: string
  readonly reason: string
}> {
  override get message() {
    return `cannot reach the agent at ${this.server} (${this.origin}): ${this.reason}
  start it on that host with \`beemesh-agent run\` (or \`systemctl start beemesh-agent\`),
  or point the CLI at another one: --server URL, BEEMESH_SERVER, or \`beemesh context set NAME --server URL\``
  }
}

export class AgentUnauthorized extends Data.TaggedError("AgentUnauthorized")<{
  readonly server: string
  readonly tokenOrigin: string
  readonly reason: string
}> {
  override get message() {
    return `the agent at ${this.server} refused the token from ${this.tokenOrigin}: ${this.reason}
  the operator token is in the agent's data directory (operator-token, e.g. /var/lib/beemesh/operator-token);
  save it with \`beemesh context set NAME --server ${this.server} --token-file PATH\` or pass --token / BEEMESH_TOKEN`
  }
}

/** The agent answered with an error of its own ({error, message}). */
export class AgentFailed extends Data.TaggedError("AgentFailed")<{
  readonly status: number
  readonly error: string
  readonly reason: string
}> {
  override get message() {
    return `${this.error} (HTTP ${this.status}): ${this.reason}`
  }
}

export class RolloutTimeout extends Data.TaggedError("RolloutTimeout")<{
  readonly workloads: ReadonlyArray<string>
  readonly seconds: number
}> {
  override get message() {
    return `not ready after ${this.seconds} s: ${this.workloads.join(", ")} (\`beemesh describe workload NAME\` shows why; --timeout waits longer)`
  }
}

/** The agent reports that an update cannot progress (Progressing=False). */
export class RolloutFailed extends Data.TaggedError("RolloutFailed")<{
  readonly workload: string
  readonly reason: string
  readonly detail: string
}> {
  override get message() {
    return `${this.workload}: ${this.reason}: ${this.detail} (fix the manifest and apply it again, or apply the previous one)`
  }
}

export type CliError =
  | UsageError
  | ContextError
  | InputError
  | AgentUnreachable
  | AgentUnauthorized
  | AgentFailed
  | RolloutTimeout
  | RolloutFailed

export const exitCodeOf = (error: CliError): number =>
  error._tag === "UsageError" ? ExitCode.usage : ExitCode.failure
