/**
 * A stream of signed records, each as `[u32 big-endian length][bytes]`, ended by closing the
 * stream: the catalog's sync answer. Reading is bounded (record size, count, total bytes), so a
 * peer cannot make us buffer more than a catalog could legitimately hold.
 */
import type { Stream } from "@libp2p/interface"

export interface FrameLimits {
  readonly maxRecordBytes: number
  readonly maxRecords: number
  readonly maxTotalBytes: number
}

const frame = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

/** Writes every record (waiting on the stream's back-pressure) and half-closes the stream. */
export const writeRecords = async (
  stream: Stream,
  records: ReadonlyArray<Uint8Array>,
  signal: AbortSignal,
): Promise<void> => {
  for (const record of records) {
    if (!stream.send(frame(record))) await stream.onDrain({ signal })
  }
  await stream.close({ signal })
}

/**
 * Reads records until the stream ends, handing each to `onRecord`; answers how many arrived, or
 * what was wrong with the stream (then the records before it were still handed on).
 */
export const readRecords = async (
  stream: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>,
  limits: FrameLimits,
  onRecord: (record: Uint8Array) => void,
): Promise<number | string> => {
  let pending: Buffer = Buffer.alloc(0)
  let count = 0
  let total = 0
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    total += bytes.length
    if (total > limits.maxTotalBytes) return `answer longer than ${limits.maxTotalBytes} bytes`
    pending = pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([pending, bytes])
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0)
      if (length > limits.maxRecordBytes)
        return `record of ${length} bytes, more than ${limits.maxRecordBytes}`
      if (pending.length < 4 + length) break
      if (++count > limits.maxRecords) return `more than ${limits.maxRecords} records`
      onRecord(new Uint8Array(pending.subarray(4, 4 + length)))
      pending = pending.subarray(4 + length)
    }
  }
  return pending.length === 0 ? count : "answer cut short"
}
