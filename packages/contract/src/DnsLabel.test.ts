import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { DnsLabel, isDnsLabel, MAX_LENGTH, problem } from "./DnsLabel.js"

describe("DnsLabel", () => {
  it("accepts labels up to 63 characters", () => {
    for (const ok of ["a", "0", "orders", "web-1", "0abc", "a-b-c", "x".repeat(MAX_LENGTH)]) {
      expect(isDnsLabel(ok), ok).toBe(true)
      expect(problem(ok), ok).toBeUndefined()
    }
  })

  it("refuses malformed and hostile names", () => {
    for (const bad of [
      "Orders",
      "a/b",
      "../etc",
      "a..b",
      "a.b",
      "-a",
      "a-",
      "a_b",
      "a\u0000",
      "ä",
      " a",
    ]) {
      expect(isDnsLabel(bad), bad).toBe(false)
      expect(problem(bad), bad).toMatch(/^not a DNS-1123 label \(lower-case letters/)
    }
  })

  it("says when a name is empty or too long", () => {
    expect(problem("")).toBe("empty")
    expect(isDnsLabel("")).toBe(false)
    expect(problem("x".repeat(64))).toBe("64 characters long; at most 63")
    expect(isDnsLabel("x".repeat(64))).toBe(false)
  })

  it("as a Schema, fails with the rule in words", () => {
    expect(Schema.decodeUnknownSync(DnsLabel)("web")).toBe("web")
    expect(() => Schema.decodeUnknownSync(DnsLabel)("Web")).toThrow(/must be a DNS-1123 label/)
    expect(() => Schema.decodeUnknownSync(DnsLabel)(42)).toThrow()
  })
})
