import type { Socket } from "node:net"
import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface"
import type { Uint8ArrayList } from "uint8arraylist"
import type { BufferHolder } from "../Metrics.js"

/** Why a bridge ended. `Closed` means both directions finished with a clean half-close each. */
export type BridgeEnd =
  | { readonly _tag: "Closed" }
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

  constructor(
    private readonly socket: Socket,
    private readonly stream: Stream,
    private readonly options: BridgeOptions,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve
    })
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
    const onMessage = (event: StreamMessageEvent) => {
      const data = event.data
      counters.bytesIn += data.byteLength
      service.bytesIn += data.byteLength
      const more = data instanceof Uint8Array ? socket.write(data) : writeList(socket, data)
      if (!more && !this.streamPaused && stream.readStatus === "readable") {
        this.streamPaused = true
        // Inside resume() the pause must wait: resume() dispatches buffered data and only then
        // tells yamux to resume, which would undo a pause made during that dispatch and let the
        // remote send without limit until the read buffer overflows and resets the stream.
        if (!this.resuming) stream.pause()
      }
      if (stream.readableEnded) endSocketIfStreamEnded()
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
    stream.addEventListener("end", endSocketIfStreamEnded)

    // socket → stream
    socket.on("data", (chunk: Buffer) => {
      counters.bytesOut += chunk.byteLength
      service.bytesOut += chunk.byteLength
      if (stream.writeStatus !== "writable") {
        // The stream can no longer carry data (reset or closed under us): stop the connection.
        this.fail("stream-reset", new Error(`libp2p stream is ${stream.status}, cannot forward`))
        return
      }
      if (!stream.send(chunk) && !this.socketPaused) {
        this.socketPaused = true
        socket.pause()
      }
    })
    stream.addEventListener("drain", () => {
      if (this.socketPaused) {
        this.socketPaused = false
        socket.resume()
      }
    })
    socket.on("end", () => {
      if (stream.writeStatus === "writable") stream.close().catch(() => {})
    })

    // endings
    socket.on("timeout", () => {
      this.fail("idle-timeout", new IdleTimeoutError(`no traffic for ${options.idleTimeoutMs} ms`))
    })
    socket.on("error", (error) => this.fail("socket-error", error))
    socket.on("close", () => {
      this.socketClosed = true
      // A socket that closed cleanly has seen both FINs; anything else means the peer vanished.
      if (!stream.readableEnded && this.failure === undefined) {
        this.fail("socket-error", new Error("local socket closed before the stream ended"))
      }
      this.maybeDone()
    })
    stream.addEventListener("close", (event: StreamCloseEvent) => {
      this.streamClosed = true
      if (event.error !== undefined) this.fail("stream-reset", event.error)
      else if (stream.readBufferLength === 0 && !socket.destroyed && !socket.writableEnded) {
        socket.end()
      }
      // Otherwise the stream closed while paused with data still buffered (both sides had sent
      // FIN): keep delivering it; 'end' follows once the buffer is empty and ends the socket.
      this.maybeDone()
    })

    if (options.initial !== undefined && options.initial.byteLength > 0) {
      counters.bytesIn += options.initial.byteLength
      service.bytesIn += options.initial.byteLength
      socket.write(options.initial)
    }
    stream.addEventListener("message", onMessage)
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
    endSocketIfStreamEnded()
    this.resumeStream()
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

  private fail(reason: Exclude<BridgeEnd, { _tag: "Closed" }>["reason"], error: Error): void {
    if (this.failure !== undefined) return
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
    if (this.socketClosed && this.streamClosed) this.resolveDone(this.failure ?? { _tag: "Closed" })
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
