/**
 * The workspace's patch to @chainsafe/libp2p-noise (patches/, pnpm `patchedDependencies`): Noise's
 * HKDF runs on node:crypto (`hkdfSync`, OpenSSL) instead of the JavaScript SHA-256 of
 * @noble/hashes. A process's first handshakes ran that JavaScript interpreted: about a tenth of the
 * CPU a fresh sidecar spent on its first connection, on both sides (the provider's is on the path
 * of every deploy to its first answer). The bytes must be the package's own: every key of every
 * session comes out of this function. This fails if the patch is dropped, for example by an upgrade
 * that does not carry it.
 */
import { randomBytes } from "node:crypto"
import { defaultCrypto, pureJsCrypto } from "@chainsafe/libp2p-noise/crypto"
import { describe, expect, it } from "vitest"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("@chainsafe/libp2p-noise (patched): HKDF on node:crypto", () => {
  it("is the one Noise uses by default", () => {
    expect(defaultCrypto.getHKDF).not.toBe(pureJsCrypto.getHKDF)
  })

  it("gives RFC 5869's output (test case 3: no salt, no info) as its first 42 bytes", () => {
    const [k1, k2] = defaultCrypto.getHKDF(new Uint8Array(0), new Uint8Array(22).fill(0x0b))
    expect(hex(Buffer.concat([k1, k2])).slice(0, 84)).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    )
  })

  it("gives the package's own three keys, for views into larger buffers and an empty input", () => {
    const cases: Array<[Uint8Array, Uint8Array]> = [
      [randomBytes(32), randomBytes(32)],
      // Noise's split(): the chaining key and no input key material.
      [randomBytes(32), new Uint8Array(0)],
      [randomBytes(64).subarray(7, 39), randomBytes(100).subarray(33, 65)],
    ]
    for (const [ck, ikm] of cases) {
      const ours = defaultCrypto.getHKDF(ck, ikm)
      const theirs = pureJsCrypto.getHKDF(ck, ikm)
      expect(ours.map((k) => k.byteLength)).toEqual([32, 32, 32])
      expect(ours.map(hex)).toEqual(theirs.map(hex))
    }
  })
})
