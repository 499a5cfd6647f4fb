import { generateKeyPair } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { peerIdFromPrivateKey } from "@libp2p/peer-id"
import { Effect, Result, type Scope } from "effect"
import { describe, expect, it } from "vitest"
import {
  type CertificateRequest,
  issueCertificate,
  issueRevocations,
  type Revoked,
  revokedSet,
  verifyRevocations,
} from "./Certificate.js"
import { generateMeshKey } from "./MeshKey.js"
import { makeP2pNode, type P2pNode } from "./P2pNode.js"
import { RevocationList, spreadRevocations } from "./Revocations.js"

const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.runPromise(Effect.scoped(effect))

const HOUR = 60 * 60 * 1000
const BOUND_MS = 3_000
const idOf = (key: PrivateKey) => peerIdFromPrivateKey(key as never).toString()
const newKey = () => Effect.promise(() => generateKeyPair("Ed25519"))
const issue = (issuer: PrivateKey, request: Omit<CertificateRequest, "serial">) =>
  issueCertificate(issuer, { serial: crypto.randomUUID(), ...request })

const agentCert = (authority: PrivateKey, agent: PrivateKey, notAfter = Date.now() + HOUR) =>
  issue(authority, {
    role: "agent",
    subject: idOf(agent),
    notBefore: Date.now() - 1_000,
    notAfter,
  })

const sidecarCert = (agent: PrivateKey, sidecar: PrivateKey, notAfter = Date.now() + 60_000) =>
  issue(agent, {
    role: "sidecar",
    subject: idOf(sidecar),
    notBefore: notAfter - 30 * 60_000,
    notAfter,
    workload: {
      namespace: "default",
      workload: "web",
      pod: "web-0",
      generation: "1",
      labels: { app: "web" },
    },
  })

const until = <A>(what: string, probe: () => A | undefined, timeoutMs: number) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = probe()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })

const connected = (a: P2pNode, b: P2pNode) => a.node.getConnections(b.peerId).length > 0
const disconnected = (a: P2pNode, b: P2pNode) =>
  !connected(a, b) && !connected(b, a) ? true : undefined

interface Mesh {
  readonly meshKey: ReturnType<typeof generateMeshKey>
  readonly authority: PrivateKey
  revoked: Revoked
}

const mesh = Effect.gen(function* () {
  const state: Mesh = {
    meshKey: generateMeshKey(),
    authority: yield* newKey(),
    revoked: revokedSet(undefined),
  }
  return state
})

/** A node of `m` whose chain is whatever `chain` holds when read. */
const nodeOf = (m: Mesh, key: PrivateKey, chain: { current: ReadonlyArray<string> }) =>
  makeP2pNode({
    privateKey: key,
    meshKey: m.meshKey,
    dialTimeoutMs: 3_000,
    membership: {
      authority: idOf(m.authority),
      chain: () => chain.current,
      revoked: () => m.revoked,
      timeoutMs: BOUND_MS,
      recheckMs: 200,
    },
  })

const agentNode = (m: Mesh) =>
  Effect.gen(function* () {
    const key = yield* newKey()
    const chain = { current: [yield* agentCert(m.authority, key)] as ReadonlyArray<string> }
    return { key, chain, node: yield* nodeOf(m, key, chain) }
  })

describe("membership on every connection", () => {
  it("two certified agents and a sidecar certified by one of them admit each other and stay connected past the bound", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const b = yield* agentNode(m)
        const sidecarKey = yield* newKey()
        const sidecar = yield* nodeOf(m, sidecarKey, {
          current: [a.chain.current[0]!, yield* sidecarCert(a.key, sidecarKey)],
        })
        yield* b.node.dial(a.node.multiaddrs()[0]!)
        yield* sidecar.dial(b.node.multiaddrs()[0]!)
        const seenByA = yield* b.node.awaitMember(a.node.peerId)
        expect(seenByA).toMatchObject({ role: "agent", peer: a.node.peerId.toString() })
        expect(yield* a.node.awaitMember(b.node.peerId)).toMatchObject({ role: "agent" })
        const asSidecar = yield* b.node.awaitMember(sidecar.peerId)
        expect(asSidecar).toMatchObject({
          role: "sidecar",
          agent: a.node.peerId.toString(),
          workload: { namespace: "default", workload: "web", labels: { app: "web" } },
        })
        expect(yield* sidecar.awaitMember(b.node.peerId)).toMatchObject({ role: "agent" })
        yield* Effect.sleep(BOUND_MS + 500)
        expect(connected(a.node, b.node)).toBe(true)
        expect(connected(sidecar, b.node)).toBe(true)
        yield* Effect.promise(() => sidecar.node.services.ping.ping(b.node.peerId))
      }),
    )
  }, 30_000)

  it("a fresh identity holding the mesh key but no certificate is dropped within the bound, again on its first redial, then refused", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const stranger = yield* makeP2pNode({ meshKey: m.meshKey, dialTimeoutMs: 3_000 })
        const started = Date.now()
        yield* stranger.dial(a.node.multiaddrs()[0]!)
        expect(a.node.member(stranger.peerId)).toBeUndefined()
        yield* until("the stranger's disconnection", () => disconnected(a.node, stranger), 10_000)
        // The bound plus slack for a loaded machine (the bound itself is a timer).
        expect(Date.now() - started).toBeLessThan(BOUND_MS + 4_000)
        // A first silence is only a disconnection (a sidecar connects before its first lease):
        // the redial gets one more bound, and is then refused.
        yield* stranger.dial(a.node.multiaddrs()[0]!)
        yield* until("the second disconnection", () => disconnected(a.node, stranger), 10_000)
        // From now on the member refuses the connection as soon as Noise names the peer (the
        // dialler may see it complete for a moment before the close).
        const third = Date.now()
        yield* Effect.exit(stranger.dial(a.node.multiaddrs()[0]!))
        yield* until("the redial's close", () => disconnected(a.node, stranger), 5_000)
        expect(Date.now() - third).toBeLessThan(BOUND_MS)
        expect(a.node.member(stranger.peerId)).toBeUndefined()
        // Nor does the member dial it while the refusal lasts.
        const outbound = yield* Effect.flip(a.node.dial(stranger.multiaddrs()[0]!))
        expect(outbound._tag).toBe("DialFailed")
      }),
    )
  }, 30_000)

  it("a member's certificate presented by another key (wrong subject) is refused", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const b = yield* agentNode(m)
        const thief = yield* nodeOf(m, yield* newKey(), b.chain)
        const refusals: Array<string> = []
        a.node.onMemberChange((peer, member) => {
          if (member === undefined) refusals.push(peer)
        })
        yield* thief.dial(a.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(thief.peerId)).toBeUndefined()
        yield* until("the thief's disconnection", () => disconnected(a.node, thief), 5_000)
        expect(refusals).toContain(thief.peerId.toString())
      }),
    )
  }, 30_000)

  it("a certificate signed by another authority is refused", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const other = { ...m, authority: yield* newKey() }
        const outsider = yield* agentNode(other)
        yield* outsider.node.dial(a.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(outsider.node.peerId)).toBeUndefined()
        yield* until(
          "the outsider's disconnection",
          () => disconnected(a.node, outsider.node),
          5_000,
        )
      }),
    )
  }, 30_000)

  it("an expired sidecar certificate is refused, and one that expires while connected is dropped", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const expiredKey = yield* newKey()
        const expired = yield* nodeOf(m, expiredKey, {
          current: [a.chain.current[0]!, yield* sidecarCert(a.key, expiredKey, Date.now() - 1_000)],
        })
        yield* expired.dial(a.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(expired.peerId)).toBeUndefined()
        yield* until(
          "the expired sidecar's disconnection",
          () => disconnected(a.node, expired),
          5_000,
        )

        const shortKey = yield* newKey()
        const short = yield* nodeOf(m, shortKey, {
          current: [a.chain.current[0]!, yield* sidecarCert(a.key, shortKey, Date.now() + 4_000)],
        })
        yield* short.dial(a.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(short.peerId)).toMatchObject({ role: "sidecar" })
        yield* until(
          "the sidecar's disconnection at expiry",
          () => disconnected(a.node, short),
          6_000,
        )
      }),
    )
  }, 30_000)

  it("a revoked agent is disconnected once the revocation list changes, and its sidecars with it", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const b = yield* agentNode(m)
        const sidecarKey = yield* newKey()
        const sidecar = yield* nodeOf(m, sidecarKey, {
          current: [b.chain.current[0]!, yield* sidecarCert(b.key, sidecarKey)],
        })
        yield* b.node.dial(a.node.multiaddrs()[0]!)
        yield* sidecar.dial(a.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(b.node.peerId)).toBeDefined()
        expect(yield* a.node.awaitMember(sidecar.peerId)).toBeDefined()
        const list = yield* issueRevocations(m.authority, {
          issuedAt: Date.now(),
          serials: [],
          subjects: [b.node.peerId.toString()],
        })
        const opened = yield* Effect.promise(() => verifyRevocations(list, idOf(m.authority)))
        m.revoked = revokedSet(Result.getOrThrow(opened))
        a.node.recheckMembers()
        yield* until(
          "the revoked agent's disconnection",
          () => disconnected(a.node, b.node),
          10_000,
        )
        yield* until("its sidecar's disconnection", () => disconnected(a.node, sidecar), 10_000)
        yield* Effect.exit(b.node.dial(a.node.multiaddrs()[0]!))
        yield* until("the redial's close", () => disconnected(a.node, b.node), 5_000)
        expect(a.node.member(b.node.peerId)).toBeUndefined()
      }),
    )
  }, 30_000)

  it("a renewed chain is presented again to connected peers, which keep it past the first one's expiry", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const a = yield* agentNode(m)
        const sidecarKey = yield* newKey()
        const firstExpiry = Date.now() + 6_000
        const chain = {
          current: [a.chain.current[0]!, yield* sidecarCert(a.key, sidecarKey, firstExpiry)],
        }
        const sidecar = yield* nodeOf(m, sidecarKey, chain)
        yield* sidecar.dial(a.node.multiaddrs()[0]!)
        const first = yield* a.node.awaitMember(sidecar.peerId)
        expect(first?.expiresAt).toBe(firstExpiry)
        chain.current = [
          a.chain.current[0]!,
          yield* sidecarCert(a.key, sidecarKey, Date.now() + 60_000),
        ]
        const second = yield* until(
          "the renewed certificate",
          () => {
            const now = a.node.member(sidecar.peerId)
            return now !== undefined && now.expiresAt !== firstExpiry ? now : undefined
          },
          5_000,
        )
        expect(second.expiresAt).toBeGreaterThan(firstExpiry)
        yield* Effect.sleep(Math.max(0, firstExpiry - Date.now()) + 1_000)
        expect(connected(a.node, sidecar)).toBe(true)
      }),
    )
  }, 30_000)
})

describe("revocation lists between agents", () => {
  it("a list given to one agent reaches the others, which drop the revoked agent; an agent connecting later gets it", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const authority = idOf(m.authority)
        const gossiping = Effect.fn(function* () {
          const key = yield* newKey()
          const chain = { current: [yield* agentCert(m.authority, key)] as ReadonlyArray<string> }
          const list = new RevocationList(authority)
          const node = yield* makeP2pNode({
            privateKey: key,
            meshKey: m.meshKey,
            dialTimeoutMs: 3_000,
            membership: {
              authority,
              chain: () => chain.current,
              revoked: list.revoked,
              timeoutMs: BOUND_MS,
            },
          })
          yield* spreadRevocations(node, list)
          return { node, list }
        })
        const a = yield* gossiping()
        const b = yield* gossiping()
        const x = yield* gossiping()
        yield* b.node.dial(a.node.multiaddrs()[0]!)
        yield* x.node.dial(b.node.multiaddrs()[0]!)
        expect(yield* a.node.awaitMember(b.node.peerId)).toBeDefined()
        expect(yield* b.node.awaitMember(x.node.peerId)).toBeDefined()
        const text = yield* issueRevocations(m.authority, {
          issuedAt: Date.now(),
          serials: [],
          subjects: [x.node.peerId.toString()],
        })
        // Given to a, which x is not even connected to: b learns it from a and drops x.
        expect(Result.getOrThrow(yield* Effect.promise(() => a.list.offer(text)))).toBe(true)
        yield* until("b to drop the revoked agent", () => disconnected(b.node, x.node), 10_000)
        expect(b.list.current()).toBe(text)
        // An older or the same list changes nothing; one the authority did not sign is refused.
        expect(Result.getOrThrow(yield* Effect.promise(() => b.list.offer(text)))).toBe(false)
        const forged = yield* issueRevocations(yield* newKey(), {
          issuedAt: Date.now() + 1,
          serials: [],
          subjects: [],
        })
        expect(Result.isFailure(yield* Effect.promise(() => b.list.offer(forged)))).toBe(true)
        const late = yield* gossiping()
        yield* late.node.dial(b.node.multiaddrs()[0]!)
        yield* until("the late agent to get the list", () => late.list.current(), 10_000)
        // x cannot come back: it is refused as soon as it presents its (revoked) chain.
        yield* Effect.exit(x.node.dial(late.node.multiaddrs()[0]!))
        yield* until("the late agent to drop x", () => disconnected(late.node, x.node), 10_000)
      }),
    )
  }, 60_000)
})

describe("rotating the mesh authority", () => {
  it("a node accepting both authorities admits agents certified by either; once it drops the old one, old certificates are refused", async () => {
    await run(
      Effect.gen(function* () {
        const m = yield* mesh
        const newAuthority = yield* newKey()
        const authorities = { current: [idOf(m.authority), idOf(newAuthority)] }
        const hubKey = yield* newKey()
        const hub = yield* makeP2pNode({
          privateKey: hubKey,
          meshKey: m.meshKey,
          dialTimeoutMs: 3_000,
          membership: {
            // Read at every verification: a restarted agent would take the new list from its flags.
            get authority() {
              return authorities.current
            },
            chain: () => [],
            revoked: () => m.revoked,
            timeoutMs: BOUND_MS,
          },
        })
        const old = yield* agentNode(m)
        const renewed = yield* agentNode({ ...m, authority: newAuthority })
        yield* old.node.dial(hub.multiaddrs()[0]!)
        yield* renewed.node.dial(hub.multiaddrs()[0]!)
        expect(yield* hub.awaitMember(old.node.peerId)).toMatchObject({ role: "agent" })
        expect(yield* hub.awaitMember(renewed.node.peerId)).toMatchObject({ role: "agent" })
        // The rotation is over: only the new authority counts, an agent still on the old one is refused.
        authorities.current = [idOf(newAuthority)]
        const late = yield* agentNode(m)
        yield* late.node.dial(hub.multiaddrs()[0]!)
        expect(yield* hub.awaitMember(late.node.peerId)).toBeUndefined()
        yield* until("the old agent's disconnection", () => disconnected(hub, late.node), 10_000)
        // An agent certified by the new authority is still admitted.
        const next = yield* agentNode({ ...m, authority: newAuthority })
        yield* next.node.dial(hub.multiaddrs()[0]!)
        expect(yield* hub.awaitMember(next.node.peerId)).toMatchObject({ role: "agent" })
      }),
    )
  }, 30_000)
})
