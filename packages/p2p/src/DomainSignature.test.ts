import { describe, expect, it } from "vitest"
import { domainSignedBytes } from "./DomainSignature.js"

describe("domainSignedBytes", () => {
  it("is the domain, a zero byte, then the payload", () => {
    expect([...domainSignedBytes("ab", new Uint8Array([7, 8]))]).toEqual([97, 98, 0, 7, 8])
  })

  it('refuses a domain holding a zero byte: ("a\\0b", "c") would sign the bytes of ("a", "b\\0c")', () => {
    expect(() => domainSignedBytes("a\0b", new TextEncoder().encode("c"))).toThrow(/zero byte/)
  })
})
