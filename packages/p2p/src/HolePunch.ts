/**
 * What became of DCUtR hole punching. libp2p's DCUtR service starts on every relayed connection
 * but reports nothing: it only logs. This watch counts each relayed connection as an attempt and
 * calls it a success when a direct connection to the same peer opens within the window (DCUtR's
 * own timeout times its retries, plus slack), a failure otherwise; the DCUtR service's last log
 * line about the peer says why.
 */

import type { ComponentLogger, Logger } from "@libp2p/interface"
import { defaultLogger } from "@libp2p/logger"
import { isRelayed } from "./Relay.js"

/** DCUtR's defaults: 5 s per try, 3 tries. */
export const DEFAULT_HOLE_PUNCH_WINDOW_MS = 20_000

export interface HolePunchCounts {
  /** Relayed connections opened: each one makes DCUtR try to replace it with a direct one. */
  readonly attempted: number
  /** A direct connection to the peer followed within the window. */
  readonly succeeded: number
  /** The window passed while the peer was reached through the relay only. */
  readonly failed: number
}

export interface HolePunchOutcome {
  readonly peer: string
  readonly outcome: "succeeded" | "failed"
  /** The direct address (success) or DCUtR's last word on the peer (failure). */
  readonly detail: string
}

const format = (formatter: unknown, args: ReadonlyArray<unknown>): string => {
  let i = 0
  const text = String(formatter).replace(/%[a-zA-Z]/g, () => {
    const value = args[i++]
    return value instanceof Error ? value.message : String(value)
  })
  return text
}

export class HolePunchWatch {
  private readonly pending = new Map<string, ReturnType<typeof setTimeout>>()
  /** DCUtR's most telling line about each pending peer, with its rank (see heard). */
  private readonly lastWord = new Map<string, { readonly line: string; readonly rank: number }>()
  private counts = { attempted: 0, succeeded: 0, failed: 0 }

  constructor(
    private readonly windowMs: number,
    private readonly report: (outcome: HolePunchOutcome) => void,
  ) {}

  snapshot = (): HolePunchCounts => ({ ...this.counts })

  /** A connection to `peer` opened at `remoteAddr`. */
  opened(peer: string, remoteAddr: string) {
    if (isRelayed(remoteAddr)) {
      if (this.pending.has(peer)) return
      this.counts.attempted++
      const timer = setTimeout(() => {
        this.pending.delete(peer)
        this.counts.failed++
        this.report({
          peer,
          outcome: "failed",
          detail: this.lastWord.get(peer)?.line ?? "no direct connection followed the relayed one",
        })
        this.lastWord.delete(peer)
      }, this.windowMs)
      timer.unref()
      this.pending.set(peer, timer)
      return
    }
    const timer = this.pending.get(peer)
    if (timer === undefined) return
    clearTimeout(timer)
    this.pending.delete(peer)
    this.lastWord.delete(peer)
    this.counts.succeeded++
    this.report({ peer, outcome: "succeeded", detail: `direct connection via ${remoteAddr}` })
  }

  /**
   * A line DCUtR logged. Kept for the pending peers it concerns unless a more telling line is
   * already kept: an error beats an ordinary line, a line naming the peer beats one naming no
   * pending peer (some of DCUtR's lines name none; they concern every pending peer), and among
   * equals the later line wins.
   */
  heard(line: string, isError = false) {
    const named = [...this.pending.keys()].filter((peer) => line.includes(peer))
    const rank = (isError ? 2 : 0) + (named.length > 0 ? 1 : 0)
    for (const peer of named.length > 0 ? named : this.pending.keys())
      if ((this.lastWord.get(peer)?.rank ?? -1) <= rank) this.lastWord.set(peer, { line, rank })
  }

  close() {
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
  }

  /**
   * libp2p's logger with DCUtR's lines also handed to this watch (its reasons are otherwise only
   * visible with `DEBUG=libp2p:dcutr`).
   */
  logger(base: ComponentLogger = defaultLogger()): ComponentLogger {
    return {
      forComponent: (name: string): Logger => {
        const inner = base.forComponent(name)
        if (name !== "libp2p:dcutr") return inner
        const tap =
          (write: (formatter: unknown, ...args: Array<unknown>) => void, isError: boolean) =>
          (formatter: unknown, ...args: Array<unknown>) => {
            this.heard(format(formatter, args), isError)
            write(formatter, ...args)
          }
        return Object.assign(tap(inner, false), inner, { error: tap(inner.error, true) }) as Logger
      },
    }
  }
}
