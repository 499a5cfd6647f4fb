import { domainSignedBytes } from "@beemesh/p2p"
import { publicKeyFromProtobuf, publicKeyToProtobuf } from "@libp2p/crypto/keys"
import type { PrivateKey, PublicKey } from "@libp2p/interface"
import { peerIdFromPublicKey } from "@libp2p/peer-id"
import { Result } from "effect"
import { RecordRejected, RecordTooLarge } from "./Errors.js"

/**
 * A signed envelope: payload bytes, the signer's public key (libp2p protobuf form) and a
 * signature over `domain || 0x00 || payload`. The domain string separates record kinds, so a
 * signature made for a manifest can never pass as a service record (or as anything libp2p signs).
 *
 * Wire form is JSON with base64 fields: small, debuggable, and the payload bytes that were
 * signed travel verbatim (no canonicalisation needed).
 */
export interface Opened {
  readonly payload: Uint8Array
  readonly publicKey: PublicKey
  /** Peer id derived from `publicKey` (string form). */
  readonly signer: string
}

const utf8 = new TextEncoder()

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64")
const unb64 = (text: unknown): Uint8Array | undefined =>
  typeof text === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(text)
    ? new Uint8Array(Buffer.from(text, "base64"))
    : undefined

/** Signs `payload` under `domain`; fails if the envelope would exceed `maxBytes`. */
export const seal = async (
  privateKey: PrivateKey,
  domain: string,
  payload: Uint8Array,
  maxBytes: number,
): Promise<Result.Result<Uint8Array, RecordTooLarge>> => {
  const signature = await privateKey.sign(domainSignedBytes(domain, payload))
  const envelope = utf8.encode(
    JSON.stringify({
      v: 1,
      payload: b64(payload),
      publicKey: b64(publicKeyToProtobuf(privateKey.publicKey)),
      signature: b64(signature),
    }),
  )
  return envelope.length > maxBytes
    ? Result.fail(new RecordTooLarge({ bytes: envelope.length, limit: maxBytes }))
    : Result.succeed(envelope)
}

const reject = (reason: RecordRejected["reason"], detail: string) =>
  Result.fail(new RecordRejected({ reason, detail }))

const parseJson = (bytes: Uint8Array): unknown => {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes))
  } catch {
    return undefined
  }
}

const decodePublicKey = (bytes: Uint8Array): PublicKey | undefined => {
  try {
    return publicKeyFromProtobuf(bytes)
  } catch {
    return undefined
  }
}

/** Checks size, structure and signature; says nothing yet about what the payload means. */
export const open = async (
  envelope: Uint8Array,
  domain: string,
  maxBytes: number,
): Promise<Result.Result<Opened, RecordRejected>> => {
  if (envelope.length > maxBytes) {
    return reject("oversize", `${envelope.length} bytes, limit ${maxBytes}`)
  }
  const json = parseJson(envelope)
  if (typeof json !== "object" || json === null || (json as { v?: unknown }).v !== 1) {
    return reject("malformed", "not a version 1 signed envelope")
  }
  const fields = json as Record<string, unknown>
  const payload = unb64(fields.payload)
  const keyBytes = unb64(fields.publicKey)
  const signature = unb64(fields.signature)
  if (payload === undefined || keyBytes === undefined || signature === undefined) {
    return reject("malformed", "payload, publicKey and signature must be base64 strings")
  }
  const publicKey = decodePublicKey(keyBytes)
  if (publicKey === undefined) {
    return reject("malformed", "publicKey is not a libp2p public key")
  }
  const valid = await Promise.resolve(
    publicKey.verify(domainSignedBytes(domain, payload), signature),
  ).catch(() => false)
  if (!valid) {
    return reject("bad-signature", `signature does not match the payload for ${domain}`)
  }
  return Result.succeed({ payload, publicKey, signer: peerIdFromPublicKey(publicKey).toString() })
}
