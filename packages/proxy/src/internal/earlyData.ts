import type { Socket } from "node:net"
import type { Stream } from "@libp2p/interface"
import { Uint8ArrayList } from "uint8arraylist"
import { END_SEGMENT } from "../Protocol.js"
import { dataSegments } from "./segments.js"

/**
 * The caller's bytes before the provider's status (optimistic open): they follow the request on
 * the stream at once instead of waiting a round trip for the provider's Ok. Every acceptor of the
 * protocol keeps a new stream paused until its target is connected and admitted, so nothing
 * reaches the target before then, and a refusal discards them.
 *
 * The request waits for the caller's first bytes for one turn of the event loop (their read
 * included), so that both usually travel in one yamux frame, one Noise message and one system call;
 * a caller that waits for the server to speak first gets the request alone after that turn.
 *
 * Until the status arrives, every byte read is also kept, so that a provider that refuses or a
 * stream that breaks does not lose them: the next attempt's stream gets them again behind its
 * request. Past `maxBytes` kept, the socket is paused until the status settles it.
 *
 * On a segmented stream (`/beemesh/proxy/1.1.0`) the bytes go as data segments and the caller's
 * FIN as an end segment; on a raw one as they are, and the FIN as the stream's.
 */
export class EarlyData {
  private readonly chunks: Buffer[] = []
  private kept = 0
  private finished = false
  private stream: Stream | undefined
  private segmented = false
  private listening = false
  /** The attached stream's request, while it waits for the caller's first bytes. */
  private request: Uint8Array | undefined

  constructor(
    private readonly socket: Socket,
    private readonly maxBytes: number,
  ) {}

  /** Bytes read from the socket so far (all of them were sent on the attached stream). */
  get byteLength(): number {
    return this.kept
  }

  /** The caller's FIN was read (and sent on the attached stream, behind its bytes). */
  get ended(): boolean {
    return this.finished
  }

  /**
   * Sends `request` and every byte read so far on `stream` (one write, after at most one turn of
   * the event loop), then forwards what the socket sends next, its FIN included, until `detach`
   * or `release`.
   */
  attach(stream: Stream, request: Uint8Array, segmented: boolean): void {
    this.detach()
    this.stream = stream
    this.segmented = segmented
    this.request = request
    stream.addEventListener("drain", this.onDrain)
    if (!this.listening) {
      this.listening = true
      this.socket.on("data", this.onData)
      this.socket.on("end", this.onEnd)
    }
    if (this.chunks.length > 0 || this.finished) {
      this.sendRequest()
      return
    }
    this.socket.resume()
    // An immediate queued from an immediate runs after the next poll phase, which reads the
    // socket if the caller has sent anything.
    setImmediate(() =>
      setImmediate(() => {
        if (this.stream === stream) this.sendRequest()
      }),
    )
  }

  /** Stops forwarding to the attached stream (it failed); what was read is kept for the next. */
  detach(): void {
    this.request = undefined
    if (this.stream === undefined) return
    this.stream.removeEventListener("drain", this.onDrain)
    this.stream = undefined
    this.socket.pause()
  }

  /**
   * The provider answered Ok: the attached stream carries everything read so far. Leaves the
   * socket paused (its further bytes wait in its buffer) for the bridge to take over, and returns
   * how many bytes went ahead.
   */
  release(): number {
    this.socket.pause()
    this.detach()
    if (this.listening) {
      this.socket.off("data", this.onData)
      this.socket.off("end", this.onEnd)
      this.listening = false
    }
    this.chunks.length = 0
    return this.kept
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk)
    this.kept += chunk.byteLength
    if (this.request !== undefined) {
      this.sendRequest()
      return
    }
    const stream = this.stream
    if (stream === undefined || stream.writeStatus !== "writable") {
      this.socket.pause()
      return
    }
    const more = stream.send(this.segmented ? dataSegments(chunk) : chunk)
    if (!more || this.kept >= this.maxBytes) this.socket.pause()
  }

  private readonly onEnd = (): void => {
    this.finished = true
    if (this.request !== undefined) {
      this.sendRequest()
      return
    }
    const stream = this.stream
    if (stream === undefined || stream.writeStatus !== "writable") return
    if (this.segmented) stream.send(END_SEGMENT)
    else stream.close().catch(() => {})
  }

  /** The request and every byte read so far, in one write; the FIN too if the caller sent it. */
  private sendRequest(): void {
    const stream = this.stream
    const request = this.request
    if (stream === undefined || request === undefined) return
    this.request = undefined
    if (stream.writeStatus !== "writable") {
      // The handshake fails on this stream; the bytes wait for the next one.
      this.socket.pause()
      return
    }
    const first = new Uint8ArrayList(request)
    for (const chunk of this.chunks) {
      if (this.segmented) first.append(dataSegments(chunk))
      else first.append(chunk)
    }
    if (this.finished && this.segmented) first.append(END_SEGMENT)
    const more = stream.send(first)
    if (this.finished && !this.segmented) stream.close().catch(() => {})
    if (more && this.kept < this.maxBytes && !this.finished) this.socket.resume()
    else this.socket.pause()
  }

  private readonly onDrain = (): void => {
    if (this.kept < this.maxBytes && !this.finished) this.socket.resume()
  }
}
