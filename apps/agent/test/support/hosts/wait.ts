import { WaitTimedOut } from "./errors"

const describe = (value: unknown) => (value instanceof Error ? value.message : String(value))

/**
 * Polls `check` until it returns a value other than undefined; fails with WaitTimedOut naming
 * `what` and the last thing seen (a thrown error or "not yet") when the deadline passes.
 */
export const waitFor = async <A>(
  what: string,
  check: () => Promise<A | undefined> | A | undefined,
  timeoutMs: number,
  intervalMs = 250,
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown = "never checked"
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
      last = "not yet"
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new WaitTimedOut(what, timeoutMs, describe(last))
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
