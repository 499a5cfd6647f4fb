import type { Stream, StreamMessageEvent } from "@libp2p/interface"
import { Uint8ArrayList } from "uint8arraylist"
import { ProxyTimeout } from "../Errors.js"
import { type Decoded, MAX_FRAME_BYTES } from "../Protocol.js"

/** The frame could not be read: malformed, or the stream ended or reset first. */
export class FrameError extends Error {
  override readonly name = "FrameError"
  constructor(
    message: string,
    /** The stream ended (a FIN, not a reset) before its first byte: the opener did not use it. */
    readonly unused = false,
  ) {
    super(message)
  }
}

export interface FrameRead<A> {
  readonly value: A
  /** Bytes that followed the frame in the same message (already raw payload). */
  readonly rest: Uint8Array | undefined
}

/** Pauses a stream if it can still be paused (pause() throws once the readable end is closed). */
export const pauseStream = (stream: Stream): void => {
  if (stream.readStatus === "readable") stream.pause()
}

/** How {@link readFrameWith} ends: the frame, or why there is none. */
export type FrameOutcome<A> =
  | { readonly _tag: "Read"; readonly read: FrameRead<A> }
  | { readonly _tag: "Failed"; readonly error: FrameError | ProxyTimeout }

/**
 * Reads one frame from the start of a stream, then leaves the stream paused so the caller can
 * attach its own 'message' listener without losing bytes. The stream should already be paused
 * (or this called synchronously in the stream handler): unread data counts against its buffer.
 * `done` is called once, unless the returned cancel is called first. Plain callbacks: the caller's
 * side runs this once per connection.
 */
export const readFrameWith = <A>(
  stream: Stream,
  decode: (bytes: Uint8Array) => Decoded<A>,
  what: string,
  timeoutMs: number,
  done: (outcome: FrameOutcome<A>) => void,
): (() => void) => {
  const received = new Uint8ArrayList()
  let settled = false
  const cleanup = () => {
    settled = true
    clearTimeout(timer)
    stream.removeEventListener("message", onMessage)
    stream.removeEventListener("end", onEnd)
    stream.removeEventListener("close", onClose)
  }
  const finish = (outcome: FrameOutcome<A>) => {
    if (settled) return
    cleanup()
    pauseStream(stream)
    done(outcome)
  }
  const fail = (error: FrameError | ProxyTimeout) => finish({ _tag: "Failed", error })
  const onMessage = (event: StreamMessageEvent) => {
    received.append(event.data)
    const bytes = received.subarray()
    const decoded = decode(bytes)
    if (decoded._tag === "Incomplete") {
      // 'end' fires once; if it already passed (data pushed back after it), this was the last chunk.
      if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
      else if (bytes.byteLength >= MAX_FRAME_BYTES)
        fail(new FrameError(`${what}: no complete frame in ${MAX_FRAME_BYTES} bytes`))
      return
    }
    if (decoded._tag === "Invalid") {
      fail(new FrameError(`${what}: ${decoded.reason}`))
      return
    }
    const rest = decoded.consumed < bytes.byteLength ? bytes.slice(decoded.consumed) : undefined
    finish({ _tag: "Read", read: { value: decoded.value, rest } })
  }
  const onEnd = () =>
    fail(new FrameError(`${what}: stream ended before the frame`, received.byteLength === 0))
  const onClose = (event: Event) => {
    const error = (event as Event & { error?: Error }).error
    fail(
      new FrameError(
        `${what}: stream closed before the frame${error ? ` (${error.message})` : ""}`,
      ),
    )
  }
  const timer = setTimeout(() => fail(new ProxyTimeout({ what, timeoutMs })), timeoutMs)
  stream.addEventListener("message", onMessage)
  stream.addEventListener("end", onEnd)
  stream.addEventListener("close", onClose)
  // Data can be pushed back after 'end' (multistream-select unwrapping what it read ahead), so
  // an ended stream may still hold the frame.
  if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
  else if (stream.readStatus === "paused") stream.resume()
  return cleanup
}

/**
 * {@link readFrameWith} as a promise: rejects with the FrameError or ProxyTimeout, or with the
 * signal's reason once it aborts (the read stopped).
 */
export const readFrameAsync = <A>(
  stream: Stream,
  decode: (bytes: Uint8Array) => Decoded<A>,
  what: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<FrameRead<A>> =>
  new Promise((resolve, reject) => {
    const onAbort = () => {
      cancel()
      reject(signal.reason)
    }
    const cancel = readFrameWith(stream, decode, what, timeoutMs, (outcome) => {
      signal.removeEventListener("abort", onAbort)
      if (outcome._tag === "Read") resolve(outcome.read)
      else reject(outcome.error)
    })
    if (signal.aborted) onAbort()
    else signal.addEventListener("abort", onAbort, { once: true })
  })
