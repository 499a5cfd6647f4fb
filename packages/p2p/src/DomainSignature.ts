/**
 * What a Beemesh signature covers: `domain || 0x00 || payload`. The domain names the kind of
 * object signed (a certificate, a revocation list, a service record, a manifest), so a signature
 * made for one kind can never pass as another, nor as anything libp2p itself signs.
 */
const utf8 = new TextEncoder()

/**
 * The bytes to sign or verify for `payload` under `domain`. A domain holding a zero byte would
 * let two (domain, payload) pairs share their bytes; domains are constants, so that is a defect.
 */
export const domainSignedBytes = (domain: string, payload: Uint8Array): Uint8Array => {
  if (domain.includes("\0"))
    throw new Error(`signature domain ${JSON.stringify(domain)} holds a zero byte`)
  const prefix = utf8.encode(domain)
  const out = new Uint8Array(prefix.length + 1 + payload.length)
  out.set(prefix, 0)
  out.set(payload, prefix.length + 1)
  return out
}
