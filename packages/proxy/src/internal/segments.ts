import { Uint8ArrayList } from "uint8arraylist"
import {
  encodeDataHeader,
  MAX_SEGMENT_BYTES,
  SEGMENT_HEADER_BYTES,
  SegmentKind,
} from "../Protocol.js"

/** The segments of `/beemesh/proxy/1.1.0` were malformed. */
export class SegmentError extends Error {
  override readonly name = "SegmentError"
}

/**
 * `chunk` as data segments: a header and the chunk itself (not copied), split at
 * {@link MAX_SEGMENT_BYTES}. Empty chunks make no segment.
 */
export const dataSegments = (chunk: Uint8Array): Uint8ArrayList => {
  const list = new Uint8ArrayList()
  for (let offset = 0; offset < chunk.byteLength; offset += MAX_SEGMENT_BYTES) {
    const piece =
      offset === 0 && chunk.byteLength <= MAX_SEGMENT_BYTES
        ? chunk
        : chunk.subarray(offset, offset + MAX_SEGMENT_BYTES)
    list.append(encodeDataHeader(piece.byteLength), piece)
  }
  return list
}

/**
 * Reads one direction of a connection from the segments a stream delivers, in whatever pieces
 * they arrive: payload goes to `onData` (views of the received bytes, not copies), and the end
 * segment stops it. Bytes after the end belong to whatever the stream carries next.
 */
export class SegmentReader {
  /** Payload bytes of the current data segment still to come. */
  private remaining = 0
  private readonly header = new Uint8Array(SEGMENT_HEADER_BYTES)
  private headerBytes = 0
  private done = false

  /** The end segment was read. */
  get ended(): boolean {
    return this.done
  }

  /**
   * Reads `data`; returns the bytes that followed the end segment, if it was in `data` and
   * anything followed it. Throws a {@link SegmentError} on a malformed segment, or on data after
   * the end was read.
   */
  push(
    data: Uint8Array | Uint8ArrayList,
    onData: (payload: Uint8Array) => void,
  ): Uint8ArrayList | undefined {
    if (data instanceof Uint8Array) return this.read(data, onData)
    let rest: Uint8ArrayList | undefined
    for (const buf of data) {
      if (rest !== undefined) rest.append(buf)
      else rest = this.read(buf, onData)
    }
    return rest
  }

  private read(buf: Uint8Array, onData: (payload: Uint8Array) => void): Uint8ArrayList | undefined {
    let offset = 0
    while (offset < buf.byteLength) {
      if (this.done) return new Uint8ArrayList(offset === 0 ? buf : buf.subarray(offset))
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, buf.byteLength - offset)
        onData(offset === 0 && take === buf.byteLength ? buf : buf.subarray(offset, offset + take))
        this.remaining -= take
        offset += take
        continue
      }
      // A header, possibly split over several pieces.
      const take = Math.min(SEGMENT_HEADER_BYTES - this.headerBytes, buf.byteLength - offset)
      this.header.set(buf.subarray(offset, offset + take), this.headerBytes)
      this.headerBytes += take
      offset += take
      if (this.headerBytes < SEGMENT_HEADER_BYTES) continue
      this.headerBytes = 0
      const header = this.header
      const length = (header[1]! << 16) | (header[2]! << 8) | header[3]!
      if (header[0] === SegmentKind.Data) {
        if (length === 0) throw new SegmentError("empty data segment")
        this.remaining = length
      } else if (header[0] === SegmentKind.End) {
        if (length !== 0) throw new SegmentError(`end segment with a length of ${length}`)
        this.done = true
      } else {
        throw new SegmentError(`unknown segment kind ${header[0]}`)
      }
    }
    return undefined
  }
}
