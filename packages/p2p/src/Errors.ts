import { Data } from "effect"

/** The node's identity key file cannot be read, created or is readable by others. */
export class KeyFileError extends Data.TaggedError("KeyFileError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `libp2p key file ${this.path}: ${this.reason}`
  }
}

/** libp2p failed to start (bad listen address, port in use …). */
export class NodeStartFailed extends Data.TaggedError("NodeStartFailed")<{
  readonly listen: ReadonlyArray<string>
  readonly cause: unknown
}> {
  override get message() {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `libp2p node failed to start listening on ${this.listen.join(", ")}: ${reason}`
  }
}

/** Dialling a peer failed or timed out. */
export class DialFailed extends Data.TaggedError("DialFailed")<{
  readonly address: string
  readonly cause: unknown
}> {
  override get message() {
    return `could not dial ${this.address}: ${String(this.cause)}`
  }
}
