/**
 * How a revocation list reaches every agent: each keeps the newest list the authority signed
 * (highest `issuedAt`), sends it on `/beemesh/revocations/1.0.0` to every member agent that
 * connects, and forwards a newer one it receives (or is given) to every connected member agent.
 * A list adopted re-checks the node's connections at once, so a revoked agent is cut off as fast
 * as the list floods the connected agents; an agent that was offline gets the list from the first
 * agent it reaches. Only member agents are listened to: a list is signed, but a stranger should
 * not make us verify its megabytes.
 */
import type { Connection, Stream } from "@libp2p/interface"
import { Effect, Result, type Scope } from "effect"
import {
  type CertificateRejected,
  MAX_REVOCATIONS_BYTES,
  type RevocationClaims,
  type Revoked,
  revokedSet,
  verifyRevocations,
} from "./Certificate.js"
import { encodeFrame, readFrame } from "./internal/Frames.js"
import type { P2pNode } from "./P2pNode.js"

/** The protocol on which agents hand each other the newest revocation list. */
export const REVOCATIONS_PROTOCOL = "/beemesh/revocations/1.0.0"

/** The newest revocation list signed by one authority. */
export class RevocationList {
  private text: string | undefined
  private claims: RevocationClaims | undefined
  private set: Revoked = revokedSet(undefined)
  private readonly listeners = new Set<(text: string) => void>()

  constructor(readonly authority: string) {}

  /** What the newest list revokes (nothing before the first). */
  readonly revoked = (): Revoked => this.set
  /** The newest list as signed (undefined before the first). */
  readonly current = (): string | undefined => this.text
  readonly issuedAt = (): number | undefined => this.claims?.issuedAt

  /**
   * Adopts `text` when the authority signed it and it is newer than the current list; `false`
   * for an older or the same list, a rejection for one the authority did not sign.
   */
  readonly offer = async (text: string): Promise<Result.Result<boolean, CertificateRejected>> => {
    // The list in force comes again with every lease a sidecar renews: no signature to check.
    if (this.text !== undefined && text.trim() === this.text) return Result.succeed(false)
    const opened = await verifyRevocations(text.trim(), this.authority)
    if (Result.isFailure(opened)) return Result.fail(opened.failure)
    if (this.claims !== undefined && opened.success.issuedAt <= this.claims.issuedAt)
      return Result.succeed(false)
    this.text = text.trim()
    this.claims = opened.success
    this.set = revokedSet(opened.success)
    for (const listener of this.listeners) listener(this.text)
    return Result.succeed(true)
  }

  /** Calls `listener` with every list adopted from now on. */
  readonly onAdopted = (listener: (text: string) => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

type Gossiping = Pick<
  P2pNode,
  "node" | "member" | "awaitMember" | "onMemberChange" | "recheckMembers"
>

const send = async (connection: Connection, text: string, timeoutMs: number) => {
  try {
    const signal = AbortSignal.timeout(timeoutMs)
    const stream = await connection.newStream(REVOCATIONS_PROTOCOL, { signal })
    stream.send(encodeFrame(new TextEncoder().encode(text)))
    await stream.close({ signal })
  } catch {
    // The peer went, or is no agent that gossips: it gets the list on its next connection.
  }
}

/**
 * Runs the gossip on `p2p` for `list` in the current scope: adopted lists re-check the node's
 * members and go to every member agent; member agents get the current list when they connect.
 */
export const spreadRevocations = (
  p2p: Gossiping,
  list: RevocationList,
  timeoutMs = 5_000,
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const agents = () =>
      p2p.node.getConnections().filter((c) => p2p.member(c.remotePeer)?.role === "agent")
    // A list may arrive before the sender's own chain is verified here: wait for it, bounded.
    const isAgent = (peer: string) =>
      new Promise<boolean>((resolve) => {
        if (p2p.member(peer)?.role === "agent") return resolve(true)
        const done = (answer: boolean) => {
          clearTimeout(timer)
          stop()
          resolve(answer)
        }
        const timer = setTimeout(() => done(p2p.member(peer)?.role === "agent"), timeoutMs)
        const stop = p2p.onMemberChange((changed, member) => {
          if (changed === peer) done(member?.role === "agent")
        })
      })
    const receive = async (stream: Stream, connection: Connection) => {
      if (!(await isAgent(connection.remotePeer.toString()))) {
        stream.abort(new Error("revocation lists are taken from member agents only"))
        return
      }
      const body = await readFrame(stream, MAX_REVOCATIONS_BYTES).catch(() => undefined)
      await stream.close().catch(() => {})
      if (body instanceof Uint8Array) await list.offer(Buffer.from(body).toString("utf8"))
    }
    const adopted = (text: string) => {
      p2p.recheckMembers()
      for (const connection of agents()) void send(connection, text, timeoutMs)
    }
    const admitted = (peer: string, member: unknown) => {
      const text = list.current()
      if (text === undefined || member === undefined || p2p.member(peer)?.role !== "agent") return
      for (const connection of p2p.node.getConnections())
        if (connection.remotePeer.toString() === peer) void send(connection, text, timeoutMs)
    }
    yield* Effect.acquireRelease(
      Effect.promise(() =>
        p2p.node.handle(REVOCATIONS_PROTOCOL, receive, { maxInboundStreams: 2 }),
      ),
      () => Effect.promise(() => p2p.node.unhandle(REVOCATIONS_PROTOCOL).catch(() => {})),
    )
    const stopAdopted = list.onAdopted(adopted)
    const stopAdmitted = p2p.onMemberChange(admitted)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        stopAdopted()
        stopAdmitted()
      }),
    )
  })
