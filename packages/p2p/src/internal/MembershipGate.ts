/**
 * The state machine behind `P2pNodeOptions.membership`: who proved membership on this node's
 * connections, who is refused and until when. libp2p reports connections through callbacks, so
 * this is a plain class the node attaches and detaches with its scope.
 */
import type { Connection, ConnectionGater, Libp2p, Stream } from "@libp2p/interface"
import { Result } from "effect"
import { type Member, verifyChain } from "../Certificate.js"
import {
  DEFAULT_MEMBERSHIP_RECHECK_MS,
  DEFAULT_MEMBERSHIP_REFUSAL_MS,
  DEFAULT_MEMBERSHIP_TIMEOUT_MS,
  MAX_PRESENTATION_BYTES,
  MEMBER_PROTOCOL,
  type MemberListener,
  type MembershipOptions,
} from "../Membership.js"
import { encodeFrame, MESSAGE_CUT_SHORT, readFrame } from "./Frames.js"

const encoder = new TextEncoder()

/** `{"chain": [...]}` in one frame. */
export const encodePresentation = (chain: ReadonlyArray<string>): Uint8Array =>
  encodeFrame(encoder.encode(JSON.stringify({ chain })))

const CUT_SHORT = "cut short"

/** Reads one presentation, refusing anything larger than the bound before buffering it. */
const readPresentation = async (stream: Stream): Promise<ReadonlyArray<string> | string> => {
  const body = await readFrame(stream, MAX_PRESENTATION_BYTES)
  if (body === MESSAGE_CUT_SHORT) return CUT_SHORT
  if (typeof body === "string") return `presentation: ${body}`
  try {
    const parsed = JSON.parse(Buffer.from(body).toString("utf8")) as { chain?: unknown }
    const chain = parsed?.chain
    return Array.isArray(chain) && chain.every((text) => typeof text === "string")
      ? chain
      : 'presentation is not {"chain": [string, ...]}'
  } catch {
    return "presentation is not JSON"
  }
}

export class MembershipGate {
  private readonly members = new Map<string, Member>()
  private readonly refusedUntil = new Map<string, number>()
  /** When a peer last stayed silent past the bound (see the deadline in `opened`). */
  private readonly silentAt = new Map<string, number>()
  private readonly deadlines = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly listeners = new Set<MemberListener>()
  private node: Libp2p | undefined
  private presented = ""
  /** Armed while there is anything to re-check (see `watching`); an idle node wakes for none. */
  private recheckTimer: ReturnType<typeof setTimeout> | undefined
  private readonly recheckMs: number
  private readonly timeoutMs: number
  private readonly refusalMs: number
  private readonly now: () => number

  constructor(
    private readonly options: MembershipOptions,
    private readonly log: (level: "info" | "warning", message: string) => void,
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_MEMBERSHIP_TIMEOUT_MS
    this.refusalMs = options.refusalMs ?? DEFAULT_MEMBERSHIP_REFUSAL_MS
    this.recheckMs = options.recheckMs ?? DEFAULT_MEMBERSHIP_RECHECK_MS
    this.now = options.now ?? Date.now
  }

  /** Refused peers complete no connection, in either direction, until their refusal ends. */
  readonly gater: ConnectionGater = {
    denyDialPeer: (peer) => this.isRefused(peer.toString()),
    denyInboundEncryptedConnection: (peer) => this.isRefused(peer.toString()),
    denyOutboundEncryptedConnection: (peer) => this.isRefused(peer.toString()),
  }

  member = (peer: string): Member | undefined => this.members.get(peer)

  onChange = (listener: MemberListener): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * Resolves with the peer's membership once proved, or undefined once refused, dropped or the
   * bound passed. (The dialling side may ask before this side has even seen the connection.)
   */
  whenMember = (peer: string): Promise<Member | undefined> => {
    const known = this.members.get(peer)
    if (known !== undefined) return Promise.resolve(known)
    if (this.isRefused(peer)) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const done = (member: Member | undefined) => {
        clearTimeout(timer)
        stop()
        resolve(member)
      }
      const timer = setTimeout(() => done(this.members.get(peer)), this.timeoutMs)
      const stop = this.onChange((changed, member) => {
        if (changed === peer) done(member)
      })
    })
  }

  async attach(node: Libp2p): Promise<void> {
    this.node = node
    node.addEventListener("connection:open", this.opened)
    node.addEventListener("peer:disconnect", this.disconnected)
    await node.handle(MEMBER_PROTOCOL, this.receive, {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
    })
    this.presented = this.options.chain().join("\n")
    // Connections opened while the node started, before the listeners were in place.
    for (const connection of node.getConnections()) this.opened(connection)
    this.arm()
  }

  detach(): void {
    clearTimeout(this.recheckTimer)
    this.recheckTimer = undefined
    this.detached = true
    for (const timer of this.deadlines.values()) clearTimeout(timer)
    this.deadlines.clear()
    this.node?.removeEventListener("connection:open", this.opened)
    this.node?.removeEventListener("peer:disconnect", this.disconnected)
  }

  private detached = false

  /**
   * Something a re-check can act on: a connection (a member whose chain may expire or be revoked,
   * a peer to present a changed chain to) or a refusal or silence to forget. A node with none of
   * these (an idle sidecar: nobody calls it) has nothing to re-check until a connection opens,
   * which arms the timer again; its own chain is presented afresh on every new connection.
   */
  private watching(): boolean {
    return (
      this.members.size > 0 ||
      this.refusedUntil.size > 0 ||
      this.silentAt.size > 0 ||
      (this.node?.getConnections().length ?? 0) > 0
    )
  }

  /** Schedules the next re-check unless one is pending (or the gate is detached). */
  private arm(): void {
    if (this.recheckTimer !== undefined || this.detached) return
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined
      this.recheck()
      if (this.watching()) this.arm()
    }, this.recheckMs)
  }

  /** Re-checks expiry and revocation now, and presents this node's chain again if it changed. */
  recheck(): void {
    const now = this.now()
    const revoked = this.options.revoked()
    for (const [peer, member] of this.members) {
      if (member.expiresAt <= now)
        this.refuse(peer, `certificate expired at ${new Date(member.expiresAt).toISOString()}`)
      else if (
        revoked.subjects.has(member.peer) ||
        revoked.subjects.has(member.agent) ||
        member.serials.some((serial) => revoked.serials.has(serial))
      )
        this.refuse(peer, "certificate revoked")
    }
    for (const [peer, until] of this.refusedUntil) if (until <= now) this.refusedUntil.delete(peer)
    for (const [peer, at] of this.silentAt)
      if (at + this.refusalMs <= now) this.silentAt.delete(peer)
    const chain = this.options.chain().join("\n")
    if (chain !== this.presented) {
      this.presented = chain
      for (const connection of this.node?.getConnections() ?? []) void this.present(connection)
    }
  }

  private isRefused(peer: string): boolean {
    const until = this.refusedUntil.get(peer)
    return until !== undefined && until > this.now()
  }

  private notify(peer: string, member: Member | undefined): void {
    for (const listener of this.listeners) listener(peer, member)
  }

  private readonly opened = (event: CustomEvent<Connection> | Connection): void => {
    const connection = "detail" in event ? event.detail : event
    const peer = connection.remotePeer.toString()
    if (this.recheckTimer === undefined) {
      // Waking from idle: the chain this connection is about to be given is the one presented.
      this.presented = this.options.chain().join("\n")
      this.arm()
    }
    if (this.isRefused(peer)) {
      connection.abort(new Error(`peer ${peer} is refused: it did not prove mesh membership`))
      return
    }
    void this.present(connection)
    if (!this.members.has(peer) && !this.deadlines.has(peer))
      this.deadlines.set(
        peer,
        setTimeout(() => {
          this.deadlines.delete(peer)
          if (this.members.has(peer)) return
          // A first silence is only disconnected: a sidecar connects (to its relay) before its
          // first lease brings its chain. A second one within the refusal time is refused.
          const now = this.now()
          const before = this.silentAt.get(peer)
          const reason = `no valid certificate within ${this.timeoutMs} ms`
          if (before === undefined || before + this.refusalMs <= now) {
            this.silentAt.set(peer, now)
            this.drop(peer, reason)
          } else this.refuse(peer, reason)
        }, this.timeoutMs),
      )
  }

  private readonly disconnected = (event: CustomEvent<{ toString(): string }>): void => {
    const peer = event.detail.toString()
    const timer = this.deadlines.get(peer)
    if (timer !== undefined) clearTimeout(timer)
    this.deadlines.delete(peer)
    if (this.members.delete(peer)) this.notify(peer, undefined)
  }

  private async present(connection: Connection): Promise<void> {
    const chain = this.options.chain()
    if (chain.length === 0 || connection.status !== "open") return
    try {
      const signal = AbortSignal.timeout(this.timeoutMs)
      const stream = await connection.newStream(MEMBER_PROTOCOL, {
        signal,
        runOnLimitedConnection: true,
      })
      stream.send(encodePresentation(chain))
      await stream.close({ signal })
    } catch {
      // The peer runs no membership gate (then it verifies nothing) or the connection went:
      // either way its own deadline decides about this connection.
    }
  }

  private readonly receive = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    const timer = setTimeout(
      () => stream.abort(new Error("membership presentation took too long")),
      this.timeoutMs,
    )
    try {
      const chain = await readPresentation(stream).catch(() => undefined)
      // A stream that ended early (its connection closed, a hole punch gave up on it) proves
      // nothing either way: the deadline decides about a peer that never completes one.
      if (chain === undefined || chain === CUT_SHORT) return
      if (typeof chain === "string") {
        this.refuse(peer, chain)
        return
      }
      const verified = await this.verify(chain, peer)
      if (Result.isFailure(verified)) {
        this.refuse(peer, verified.failure.message)
        return
      }
      const timer = this.deadlines.get(peer)
      if (timer !== undefined) clearTimeout(timer)
      this.deadlines.delete(peer)
      const before = this.members.get(peer)
      this.silentAt.delete(peer)
      this.members.set(peer, verified.success)
      if (before === undefined)
        this.log("info", `peer ${peer} proved membership as ${verified.success.role}`)
      this.notify(peer, verified.success)
    } finally {
      clearTimeout(timer)
      await stream.close().catch(() => {})
    }
  }

  /** Against each authority in turn (several during a rotation); the first's refusal otherwise. */
  private async verify(chain: ReadonlyArray<string>, peer: string) {
    const authorities =
      typeof this.options.authority === "string" ? [this.options.authority] : this.options.authority
    let first: Awaited<ReturnType<typeof verifyChain>> | undefined
    for (const authority of authorities) {
      const verified = await verifyChain(chain, {
        authority,
        peer,
        now: this.now(),
        revoked: this.options.revoked(),
      })
      if (Result.isSuccess(verified)) return verified
      first ??= verified
    }
    return first ?? (await verifyChain(chain, { authority: "", peer, now: this.now() }))
  }

  private refuse(peer: string, reason: string): void {
    this.refusedUntil.set(peer, this.now() + this.refusalMs)
    this.drop(peer, reason)
  }

  private drop(peer: string, reason: string): void {
    const timer = this.deadlines.get(peer)
    if (timer !== undefined) clearTimeout(timer)
    this.deadlines.delete(peer)
    this.members.delete(peer)
    // Also wakes `whenMember` callers waiting on a peer that never proved anything.
    this.notify(peer, undefined)
    this.log("warning", `disconnecting peer ${peer}: ${reason}`)
    for (const connection of this.node?.getConnections() ?? [])
      if (connection.remotePeer.toString() === peer)
        connection.abort(new Error(`mesh membership refused: ${reason}`))
  }
}
