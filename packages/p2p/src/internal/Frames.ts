/** One length-prefixed message per stream: `[u32 big-endian length][bytes]`, bounded. */
import type { Stream } from "@libp2p/interface"

/** What `readFrame` answers for a stream that ended before its message did. */
export const MESSAGE_CUT_SHORT = "message cut short"

export const encodeFrame = (body: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(4 + body.length)
  new DataView(frame.buffer).setUint32(0, body.length)
  frame.set(body, 4)
  return frame
}

/** Reads one frame, refusing one announced larger than `maxBytes` before buffering it. */
export const readFrame = async (stream: Stream, maxBytes: number): Promise<Uint8Array | string> => {
  const chunks: Array<Uint8Array> = []
  let received = 0
  let expected: number | undefined
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    chunks.push(bytes)
    received += bytes.length
    if (expected === undefined && received >= 4) {
      expected = Buffer.concat(chunks).readUInt32BE(0)
      if (expected > maxBytes) return `message of ${expected} bytes, more than ${maxBytes}`
    }
    if (received > maxBytes + 4) return "message longer than announced"
    if (expected !== undefined && received >= expected + 4) break
  }
  if (expected === undefined || received < expected + 4) return MESSAGE_CUT_SHORT
  return new Uint8Array(Buffer.concat(chunks).subarray(4, 4 + expected))
}
