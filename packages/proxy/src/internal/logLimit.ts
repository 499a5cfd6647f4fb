/**
 * At most one log line per kind of event and per window: the first is written at once, the ones
 * like it within the next `windowMs` are counted, and one line at the window's end says how many
 * there were.
 *
 * Why: the proxy logs every refused or failed connection, and the other side decides how often
 * that happens. An app that retries a service not yet registered every 20 ms wrote 50 identical
 * errors a second into its sidecar's log; a peer opening streams the door denies, or to names not
 * exposed, writes one warning per stream into the provider's. The key names the kind of event and
 * who caused it (a service, a peer), never something the other side chose freely (a target name):
 * the keys held are bounded by the upstreams and the connected peers.
 */
import { Effect } from "effect"

export type LimitedLevel = "Warning" | "Error"

export interface LogLimiter {
  /**
   * Logs `line` at `level` unless a line of `key` was logged less than the window ago; then it is
   * counted, and `summary(count)` is logged when that window ends.
   */
  readonly log: (
    key: string,
    level: LimitedLevel,
    line: string,
    summary: (count: number, windowMs: number) => string,
  ) => void
  /** Ends every window now (their summaries are logged) and stops the timers. */
  readonly close: () => void
}

/** The default window: one line per kind of event and culprit every 10 s. */
export const LOG_LIMIT_WINDOW_MS = 10_000

/** A line as an Effect log at its level (what `makeLogLimiter`'s `emit` usually runs). */
export const logAt = (level: LimitedLevel, line: string): Effect.Effect<void> =>
  level === "Error" ? Effect.logError(line) : Effect.logWarning(line)

export const makeLogLimiter = (
  /** Writes one line (e.g. runs `logAt` with the layer's loggers). */
  emit: (level: LimitedLevel, line: string) => void,
  windowMs: number = LOG_LIMIT_WINDOW_MS,
): LogLimiter => {
  interface Window {
    count: number
    readonly level: LimitedLevel
    readonly summary: (count: number, windowMs: number) => string
    readonly timer: ReturnType<typeof setTimeout>
  }
  const windows = new Map<string, Window>()
  let closed = false

  const end = (key: string) => {
    const window = windows.get(key)
    if (window === undefined) return
    windows.delete(key)
    clearTimeout(window.timer)
    if (window.count > 0) emit(window.level, window.summary(window.count, windowMs))
  }

  return {
    log: (key, level, line, summary) => {
      const window = windows.get(key)
      if (window !== undefined) {
        window.count++
        return
      }
      emit(level, line)
      if (closed) return
      const timer = setTimeout(() => end(key), windowMs)
      // A window that is still open does not keep the process alive.
      timer.unref()
      windows.set(key, { count: 0, level, summary, timer })
    },
    close: () => {
      closed = true
      for (const key of [...windows.keys()]) end(key)
    },
  }
}
