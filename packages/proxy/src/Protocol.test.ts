import { describe, expect, it } from "vitest"
import {
  decodeRequest,
  decodeStatus,
  encodeRequest,
  encodeStatus,
  MAX_FRAME_BYTES,
  StatusCode,
} from "./Protocol.js"

describe("request frames", () => {
  it("round-trips a service name, including non-ASCII", () => {
    for (const name of ["orders", "café-ü", "x".repeat(255)]) {
      const frame = encodeRequest({ _tag: "Service", name })
      expect(frame.byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      expect(decodeRequest(frame)).toEqual({
        _tag: "Complete",
        value: { _tag: "Service", name },
        consumed: frame.byteLength,
      })
    }
  })

  it("round-trips a port", () => {
    expect(decodeRequest(encodeRequest({ _tag: "Port", port: 65535 }))).toEqual({
      _tag: "Complete",
      value: { _tag: "Port", port: 65535 },
      consumed: 4,
    })
  })

  it("is incomplete on every strict prefix and leaves trailing payload alone", () => {
    const frame = encodeRequest({ _tag: "Service", name: "orders" })
    for (let i = 0; i < frame.byteLength; i++) {
      expect(decodeRequest(frame.subarray(0, i))._tag).toBe("Incomplete")
    }
    const withPayload = new Uint8Array([...frame, 1, 2, 3])
    const decoded = decodeRequest(withPayload)
    expect(decoded._tag === "Complete" && decoded.consumed).toBe(frame.byteLength)
  })

  it("rejects bad versions, kinds, empty names, port 0 and invalid UTF-8", () => {
    expect(decodeRequest(Uint8Array.of(9, 1, 1, 65))._tag).toBe("Invalid")
    expect(decodeRequest(Uint8Array.of(1, 7))._tag).toBe("Invalid")
    expect(decodeRequest(Uint8Array.of(1, 1, 0))._tag).toBe("Invalid")
    expect(decodeRequest(Uint8Array.of(1, 2, 0, 0))._tag).toBe("Invalid")
    expect(decodeRequest(Uint8Array.of(1, 1, 2, 0xc3, 0x28))._tag).toBe("Invalid")
  })

  it("refuses to encode what cannot be decoded", () => {
    expect(() => encodeRequest({ _tag: "Service", name: "" })).toThrow(RangeError)
    expect(() => encodeRequest({ _tag: "Service", name: "x".repeat(256) })).toThrow(RangeError)
    expect(() => encodeRequest({ _tag: "Port", port: 70000 })).toThrow(RangeError)
  })
})

describe("status frames", () => {
  it("round-trips and truncates long reasons on a character boundary", () => {
    const frame = encodeStatus({ code: StatusCode.UnknownTarget, reason: "é".repeat(200) })
    const decoded = decodeStatus(frame)
    expect(decoded._tag).toBe("Complete")
    if (decoded._tag !== "Complete") return
    expect(decoded.value.code).toBe(StatusCode.UnknownTarget)
    expect(decoded.value.reason).toBe("é".repeat(127))
  })

  it("is incomplete on a prefix and rejects unknown codes", () => {
    const frame = encodeStatus({ code: StatusCode.Ok, reason: "fine" })
    expect(decodeStatus(frame.subarray(0, 3))._tag).toBe("Incomplete")
    expect(decodeStatus(Uint8Array.of(200, 0))._tag).toBe("Invalid")
  })
})
