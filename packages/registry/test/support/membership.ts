import { issueCertificate, type Revoked } from "@beemesh/p2p"
import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect } from "effect"
import type { Membership } from "../../src/Provenance.js"

const HOUR = 60 * 60 * 1000

/**
 * A mesh authority and `count` agent identities it certified, with one revocation list all of
 * them read (as the list the authority distributes would be): tests change it with `revoke`.
 */
export interface TestAuthority {
  readonly authority: string
  readonly keys: ReadonlyArray<PrivateKey>
  readonly certificates: ReadonlyArray<string>
  readonly peerIds: ReadonlyArray<string>
  /** Agent `i`'s membership (its key is `keys[i]`). */
  readonly membership: (i: number) => Membership
  readonly revoke: (peerId: string) => void
}

export const certifiedAgents = (count: number) =>
  Effect.gen(function* () {
    const authorityKey = yield* Effect.promise(() => generateKeyPair("Ed25519"))
    const authority = peerIdFromPrivateKey(authorityKey).toString()
    const keys = yield* Effect.promise(() =>
      Promise.all(Array.from({ length: count }, () => generateKeyPair("Ed25519"))),
    )
    const peerIds = keys.map((key) => peerIdFromPrivateKey(key).toString())
    const now = Date.now()
    const certificates = yield* Effect.forEach(peerIds, (subject, i) =>
      issueCertificate(authorityKey, {
        role: "agent",
        subject,
        serial: `test-agent-${i}-${subject.slice(-6)}`,
        notBefore: now - HOUR,
        notAfter: now + HOUR,
      }),
    )
    let revoked: Revoked = { serials: new Set(), subjects: new Set() }
    return {
      authority,
      keys,
      certificates,
      peerIds,
      membership: (i) => ({
        authority,
        certificate: () => certificates[i]!,
        revoked: () => revoked,
      }),
      revoke: (peerId) => {
        revoked = { serials: revoked.serials, subjects: new Set([...revoked.subjects, peerId]) }
      },
    } satisfies TestAuthority
  })
