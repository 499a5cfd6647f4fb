import { type CertificateRequest, issueCertificate } from "@beemesh/p2p"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect } from "effect"

const HOUR = 60 * 60 * 1000

/** A key's peer ID, as certificates and records name their signers. */
export const idOf = (key: PrivateKey) => peerIdFromPrivateKey(key).toString()

/** `count` fresh Ed25519 keys. */
export const newKeys = (count: number) =>
  Promise.all(Array.from({ length: count }, () => generateKeyPair("Ed25519")))

/**
 * The agent certificate `issuer` signs for `subject`, valid from an hour before `now` to an hour
 * after, its serial taken from the subject's ID; `overrides` change any field (another role, an
 * expired window).
 */
export const certify = (
  issuer: PrivateKey,
  subject: PrivateKey,
  now: number,
  overrides: Partial<CertificateRequest> = {},
) =>
  Effect.runPromise(
    issueCertificate(issuer, {
      role: "agent",
      subject: idOf(subject),
      serial: `serial-${idOf(subject).slice(-8)}`,
      notBefore: now - HOUR,
      notAfter: now + HOUR,
      ...overrides,
    }),
  )
