import { Uint8ArrayList } from "uint8arraylist"
import { describe, expect, it } from "vitest"
import { END_SEGMENT, MAX_SEGMENT_BYTES } from "../Protocol.js"
import { dataSegments, SegmentError, SegmentReader } from "./segments.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (parts: Uint8Array[]) => new TextDecoder().decode(Buffer.concat(parts))

/** Everything `reader` delivers from `pieces`, and what followed the end. */
const readAll = (reader: SegmentReader, pieces: Array<Uint8Array | Uint8ArrayList>) => {
  const payload: Uint8Array[] = []
  let rest: Uint8ArrayList | undefined
  for (const piece of pieces) {
    // Once the end was read, each push hands back all of its bytes.
    const after = reader.push(piece, (p) => payload.push(p))
    if (after !== undefined) rest = rest === undefined ? after : new Uint8ArrayList(rest, after)
  }
  return { payload: text(payload), rest: rest === undefined ? undefined : rest.subarray() }
}

describe("segments", () => {
  it("round-trips data and the end, whatever the pieces they arrive in", () => {
    const wire = new Uint8ArrayList(
      dataSegments(bytes("hello ")),
      dataSegments(bytes("world")),
      END_SEGMENT,
      bytes("next request"),
    ).subarray()
    // Every split of the wire into two pieces, and one byte at a time.
    for (let cut = 0; cut <= wire.byteLength; cut++) {
      const reader = new SegmentReader()
      const out = readAll(reader, [wire.subarray(0, cut), wire.subarray(cut)])
      expect(out.payload).toBe("hello world")
      expect(reader.ended).toBe(true)
      expect(new TextDecoder().decode(out.rest)).toBe("next request")
    }
    const reader = new SegmentReader()
    const pieces = Array.from(wire, (b) => Uint8Array.of(b))
    const out = readAll(reader, pieces)
    expect(out.payload).toBe("hello world")
    expect(reader.ended).toBe(true)
    expect(new TextDecoder().decode(out.rest)).toBe("next request")
  })

  it("reads a list of several buffers, the end in the middle of one", () => {
    const wire = new Uint8ArrayList(dataSegments(bytes("abc")), END_SEGMENT, bytes("xyz"))
    const reader = new SegmentReader()
    const out = readAll(reader, [new Uint8ArrayList(wire.subarray(0, 9), wire.subarray(9))])
    expect(out.payload).toBe("abc")
    expect(new TextDecoder().decode(out.rest)).toBe("xyz")
  })

  it("hands payload on as views, not copies, when a segment fills a piece", () => {
    const payload = bytes("x".repeat(1000))
    const wire = dataSegments(payload)
    const reader = new SegmentReader()
    const seen: Uint8Array[] = []
    for (const buf of wire) reader.push(buf, (p) => seen.push(p))
    expect(seen).toHaveLength(1)
    expect(seen[0]).toBe(payload)
  })

  it("splits a chunk larger than one segment", () => {
    const big = new Uint8Array(MAX_SEGMENT_BYTES + 10)
    const list = dataSegments(big)
    expect(list.byteLength).toBe(big.byteLength + 8)
    const reader = new SegmentReader()
    let total = 0
    reader.push(list, (p) => {
      total += p.byteLength
    })
    expect(total).toBe(big.byteLength)
  })

  it("refuses malformed segments with a reason", () => {
    const cases: Array<[Uint8Array, string]> = [
      [Uint8Array.of(9, 0, 0, 1, 0), "unknown segment kind 9"],
      [Uint8Array.of(1, 0, 0, 2), "end segment with a length of 2"],
      [Uint8Array.of(0, 0, 0, 0), "empty data segment"],
    ]
    for (const [wire, reason] of cases) {
      expect(() => new SegmentReader().push(wire, () => {})).toThrow(new SegmentError(reason))
    }
  })
})
