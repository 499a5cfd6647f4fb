import type { Socket } from "node:net"
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface"
import type { Uint8ArrayList } from "uint8arraylist"
import type { BufferHolder } from "../Metrics.js"
import { END_SEGMENT } from "../Protocol.js"
import { dataSegments, type SegmentError, SegmentReader } from "./segments.js"

/**
 * Why a bridge ended. `Closed` means both directions finished with a clean half-close each;
 * `Idle` the same on a segmented stream, which stays open for the next connection (the bridge no
 * longer listens to it, and whatever arrives after the remote's end waits in its buffer).
 */
export type BridgeEnd =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Idle" }
  | {
      readonly _tag: "Failed"
      readonly reason: "stream-reset" | "socket-error" | "idle-timeout" | "interrupted"
      readonly error: Error
    }

export interface BridgeCounters {
  bytesIn: number
  bytesOut: number
}

export interface BridgeOptions {
  /** Reset both sides when neither moves a byte for this long. */
  readonly idleTimeoutMs: number
  /** Incremented in place: bytesIn = stream → socket, bytesOut = socket → stream. */
  readonly counters: BridgeCounters
  /** The connection's service series, counted like `counters`. */
  readonly service: BridgeCounters
  /** Bytes that arrived on the stream together with the handshake; written to the socket first. */
  readonly initial?: Uint8Array | undefined
  /**
   * The stream carries segments (`/beemesh/proxy/1.1.0`) rather than raw bytes: each direction
   * ends with an end segment instead of the stream's FIN, and the bridge ends `Idle`.
   */
  readonly segmented?: boolean | undefined
  /** Segmented only: the socket's end was already sent (by the early data, before the status). */
  readonly endSent?: boolean | undefined
}

export class IdleTimeoutError extends Error {
  override readonly name = "IdleTimeoutError"
}

/**
 * Pipes one TCP socket and one libp2p stream into each other until both directions are done.
 *
 * Backpressure: a `false` from `socket.write` pauses the stream (yamux then stops granting window,
 * so the remote stops sending); a `false` from `stream.send` pauses the socket until the stream's
 * 'drain'. Half-close: the socket's FIN becomes `stream.close()` and the stream's 'end' (not
 * 'remoteCloseWrite', which fires while data may still be buffered) becomes `socket.end()`. Resets:
 * a reset stream resets the socket (RST) and a socket error aborts the stream.
 *
 * The socket must have been created with `allowHalfOpen: true`, or Node ends it on the first FIN.
 */
export class Bridge implements BufferHolder {
  readonly done: Promise<BridgeEnd>
  private resolveDone!: (end: BridgeEnd) => void
  private failure: BridgeEnd | undefined
  private socketClosed = false
  private streamClosed = false
  private streamPaused = false
  private resuming = false
  private socketPaused = false
  /** Segmented streams: the reader of the remote's segments, and which ends were exchanged. */
  private readonly reader: SegmentReader | undefined
  private endSent: boolean
  private endReceived = false
  private settled = false
  private detachStream: () => void = () => {}

  constructor(
    private readonly socket: Socket,
    private readonly stream: Stream,
    private readonly options: BridgeOptions,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve
    })
    this.reader = options.segmented === true ? new SegmentReader() : undefined
    this.endSent = options.segmented === true && options.endSent === true
    this.start()
  }

  bufferedBytes(): number {
    return (
      this.stream.readBufferLength +
      this.stream.writeBufferLength +
      this.socket.writableLength +
      this.socket.readableLength
    )
  }

  /** Resets both sides (used on interruption, e.g. the proxy shutting down). */
  abort(error: Error): void {
    this.fail("interrupted", error)
  }

  private start(): void {
    const { socket, stream, options } = this
    const counters = options.counters
    const service = options.service
    socket.setNoDelay(true)
    socket.setTimeout(options.idleTimeoutMs)

    // stream → socket
    const reader = this.reader
    let more = true
    const writePayload = (payload: Uint8Array) => {
      counters.bytesIn += payload.byteLength
      service.bytesIn += payload.byteLength
      more = socket.write(payload)
    }
    /** Segmented: the remote's payload to the socket; its end segment ends the socket. */
    const readSegments = (reader: SegmentReader, data: Uint8Array | Uint8ArrayList): void => {
      let rest: Uint8ArrayList | undefined
      socket.cork()
      try {
        rest = reader.push(data, writePayload)
      } catch (error) {
        socket.uncork()
        this.fail("stream-reset", error as SegmentError)
        return
      }
      socket.uncork()
      if (!reader.ended) return
      // The remote's side is done. What follows is the stream's next use: back into its buffer,
      // unread until someone listens again.
      this.endReceived = true
      stream.removeEventListener("message", onMessage)
      stream.removeEventListener("end", onStreamEnd)
      if (rest !== undefined) {
        try {
          stream.unshift(rest)
        } catch (error) {
          this.fail("stream-reset", error as Error)
          return
        }
      }
      if (!socket.destroyed && !socket.writableEnded) socket.end()
      this.maybeDone()
    }
    const onMessage = (event: StreamMessageEvent) => {
      const data = event.data
      if (reader !== undefined) {
        more = true
        readSegments(reader, data)
        if (this.endReceived || this.failure !== undefined) return
        // 'end' passed while this data waited in the buffer: no end segment can follow now.
        if (stream.readableEnded && stream.readBufferLength === 0) {
          onStreamEnd()
          return
        }
      } else {
        counters.bytesIn += data.byteLength
        service.bytesIn += data.byteLength
        more = data instanceof Uint8Array ? socket.write(data) : writeList(socket, data)
      }
      if (!more && !this.streamPaused && stream.readStatus === "readable") {
        this.streamPaused = true
        // Inside resume() the pause must wait: resume() dispatches buffered data and only then
        // tells yamux to resume, which would undo a pause made during that dispatch and let the
        // remote send without limit until the read buffer overflows and resets the stream.
        if (!this.resuming) stream.pause()
      }
      if (reader === undefined && stream.readableEnded) endSocketIfStreamEnded()
    }
    // 'end' fires once and can precede data pushed back onto the stream, so the socket is ended
    // when the stream has ended and its buffer is empty, whichever comes last.
    const endSocketIfStreamEnded = () => {
      if (this.failure !== undefined || socket.destroyed || socket.writableEnded) return
      // A reset also emits 'end' (before 'close'): that must become a reset, not a FIN.
      if (stream.status === "reset" || stream.status === "aborted") return
      if (stream.readableEnded && stream.readBufferLength === 0) socket.end()
    }
    socket.on("drain", () => {
      if (this.streamPaused) {
        this.streamPaused = false
        this.resumeStream()
      }
    })
    // Segmented: the stream may end only after the remote's end segment (which detaches this).
    const onStreamEnd =
      reader === undefined
        ? endSocketIfStreamEnded
        : () => {
            if (stream.readBufferLength > 0) return
            this.fail("stream-reset", new Error("libp2p stream ended before the connection's end"))
          }
    stream.addEventListener("end", onStreamEnd)

    // socket → stream
    socket.on("data", (chunk: Buffer) => {
      counters.bytesOut += chunk.byteLength
      service.bytesOut += chunk.byteLength
      if (stream.writeStatus !== "writable") {
        // The stream can no longer carry data (reset or closed under us): stop the connection.
        this.fail("stream-reset", new Error(`libp2p stream is ${stream.status}, cannot forward`))
        return
      }
      const sent = reader === undefined ? stream.send(chunk) : stream.send(dataSegments(chunk))
      if (!sent && !this.socketPaused) {
        this.socketPaused = true
        socket.pause()
      }
    })
    const onStreamDrain = () => {
      if (this.socketPaused) {
        this.socketPaused = false
        socket.resume()
      }
    }
    stream.addEventListener("drain", onStreamDrain)
    socket.on("end", () => {
      if (stream.writeStatus !== "writable") return
      if (reader === undefined) {
        stream.close().catch(() => {})
        return
      }
      if (this.endSent) return
      stream.send(END_SEGMENT)
      this.endSent = true
      this.maybeDone()
    })

    // endings
    socket.on("timeout", () => {
      this.fail("idle-timeout", new IdleTimeoutError(`no traffic for ${options.idleTimeoutMs} ms`))
    })
    socket.on("error", (error) => this.fail("socket-error", error))
    socket.on("close", () => {
      this.socketClosed = true
      // A socket that closed cleanly has seen both FINs; anything else means the peer vanished.
      const clean = reader === undefined ? stream.readableEnded : this.endReceived && this.endSent
      if (!clean && this.failure === undefined) {
        this.fail("socket-error", new Error("local socket closed before the stream ended"))
      }
      this.maybeDone()
    })
    const onStreamClose = (event: StreamCloseEvent) => {
      this.streamClosed = true
      if (event.error !== undefined) this.fail("stream-reset", event.error)
      else if (reader !== undefined) {
        this.fail("stream-reset", new Error("libp2p stream closed before the connection's end"))
      } else if (stream.readBufferLength === 0 && !socket.destroyed && !socket.writableEnded) {
        socket.end()
      }
      // Otherwise the stream closed while paused with data still buffered (both sides had sent
      // FIN): keep delivering it; 'end' follows once the buffer is empty and ends the socket.
      this.maybeDone()
    }
    stream.addEventListener("close", onStreamClose)
    this.detachStream = () => {
      stream.removeEventListener("message", onMessage)
      stream.removeEventListener("end", onStreamEnd)
      stream.removeEventListener("drain", onStreamDrain)
      stream.removeEventListener("close", onStreamClose)
    }

    if (options.initial !== undefined && options.initial.byteLength > 0) {
      if (reader !== undefined) readSegments(reader, options.initial)
      else {
        counters.bytesIn += options.initial.byteLength
        service.bytesIn += options.initial.byteLength
        socket.write(options.initial)
      }
    }
    if (this.failure !== undefined || this.settled) return
    if (!this.endReceived) stream.addEventListener("message", onMessage)
    if (stream.status === "reset" || stream.status === "aborted") {
      this.streamClosed = true
      this.fail(
        "stream-reset",
        new Error(`libp2p stream was ${stream.status} during the handshake`),
      )
      return
    }
    if (socket.closed) {
      // The local peer went away during the handshake; its 'close' event has already passed.
      this.socketClosed = true
      this.fail("socket-error", new Error("local socket closed during the handshake"))
      return
    }
    if (reader === undefined) endSocketIfStreamEnded()
    else if (!this.endReceived && stream.readableEnded && stream.readBufferLength === 0) {
      onStreamEnd()
      return
    }
    if (!this.endReceived) this.resumeStream()
    if (socket.isPaused()) socket.resume()
  }

  private resumeStream(): void {
    const stream = this.stream
    if (stream.readStatus !== "paused") return
    this.resuming = true
    stream.resume()
    this.resuming = false
    if (this.streamPaused && (stream.readStatus as string) === "readable") stream.pause()
  }

  private fail(reason: Extract<BridgeEnd, { _tag: "Failed" }>["reason"], error: Error): void {
    if (this.failure !== undefined || this.settled) return
    this.failure = { _tag: "Failed", reason, error }
    // The socket first: aborting the stream emits its 'end', which must not end the socket.
    if (!this.socket.destroyed) {
      // uv_tcp_close_reset cannot follow a shutdown (FIN already sent): plain destroy then.
      if (this.socket.writableEnded) this.socket.destroy()
      else this.socket.resetAndDestroy()
    }
    if (this.stream.status === "open" || this.stream.status === "closing") this.stream.abort(error)
    this.streamClosed = this.streamClosed || this.stream.status !== "open"
    this.maybeDone()
  }

  private maybeDone(): void {
    if (this.settled) return
    if (this.reader !== undefined && this.failure === undefined) {
      // Segmented: once both ends were exchanged the stream's part is over (what happens to it
      // next, a reset included, is its next user's concern); done when the socket has closed.
      if (!(this.endSent && this.endReceived)) return
      this.detachStream()
      if (!this.socketClosed) return
      this.settled = true
      this.resolveDone({ _tag: "Idle" })
      return
    }
    if (this.socketClosed && this.streamClosed) {
      this.settled = true
      this.detachStream()
      this.resolveDone(this.failure ?? { _tag: "Closed" })
    }
  }
}

/** Writes a multi-chunk message without concatenating it; returns the last write's verdict. */
const writeList = (socket: Socket, list: Uint8ArrayList): boolean => {
  socket.cork()
  let more = true
  for (const buf of list) more = socket.write(buf)
  socket.uncork()
  return more
}
