import type { Stream, StreamMessageEvent } from "@libp2p/interface"
import { Effect } from "effect"
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

/**
 * Reads one frame from the start of a stream, then leaves the stream paused so the caller can
 * attach its own 'message' listener without losing bytes. The stream should already be paused
 * (or this called synchronously in the stream handler): unread data counts against its buffer.
 */
export const readFrame = <A>(
  stream: Stream,
  decode: (bytes: Uint8Array) => Decoded<A>,
  what: string,
  timeoutMs: number,
): Effect.Effect<FrameRead<A>, FrameError | ProxyTimeout> =>
  Effect.callback<FrameRead<A>, FrameError | ProxyTimeout>((resume) => {
    const received = new Uint8ArrayList()
    let settled = false
    const cleanup = () => {
      settled = true
      clearTimeout(timer)
      stream.removeEventListener("message", onMessage)
      stream.removeEventListener("end", onEnd)
      stream.removeEventListener("close", onClose)
    }
    const finish = (effect: Effect.Effect<FrameRead<A>, FrameError | ProxyTimeout>) => {
      if (settled) return
      cleanup()
      pauseStream(stream)
      resume(effect)
    }
    const onMessage = (event: StreamMessageEvent) => {
      received.append(event.data)
      const bytes = received.subarray()
      const decoded = decode(bytes)
      if (decoded._tag === "Incomplete") {
        // 'end' fires once; if it already passed (data pushed back after it), this was the last chunk.
        if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
        else if (bytes.byteLength >= MAX_FRAME_BYTES) {
          finish(
            Effect.fail(new FrameError(`${what}: no complete frame in ${MAX_FRAME_BYTES} bytes`)),
          )
        }
        return
      }
      if (decoded._tag === "Invalid") {
        finish(Effect.fail(new FrameError(`${what}: ${decoded.reason}`)))
        return
      }
      const rest = decoded.consumed < bytes.byteLength ? bytes.slice(decoded.consumed) : undefined
      finish(Effect.succeed({ value: decoded.value, rest }))
    }
    const onEnd = () =>
      finish(
        Effect.fail(
          new FrameError(`${what}: stream ended before the frame`, received.byteLength === 0),
        ),
      )
    const onClose = (event: Event) => {
      const error = (event as Event & { error?: Error }).error
      finish(
        Effect.fail(
          new FrameError(
            `${what}: stream closed before the frame${error ? ` (${error.message})` : ""}`,
          ),
        ),
      )
    }
    const timer = setTimeout(
      () => finish(Effect.fail(new ProxyTimeout({ what, timeoutMs }))),
      timeoutMs,
    )
    stream.addEventListener("message", onMessage)
    stream.addEventListener("end", onEnd)
    stream.addEventListener("close", onClose)
    // Data can be pushed back after 'end' (multistream-select unwrapping what it read ahead), so
    // an ended stream may still hold the frame.
    if (stream.readableEnded && stream.readBufferLength === 0) onEnd()
    else if (stream.readStatus === "paused") stream.resume()
    return Effect.sync(cleanup)
  })
