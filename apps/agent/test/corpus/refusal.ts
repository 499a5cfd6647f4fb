import { expect } from "vitest"
import type { BadInput } from "./badInput"

/** Stack frames, source or bundle paths, or this machine's directories in an answer. */
const INTERNALS = /\n\s+at |node_modules|\.[cm]?[jt]s:\d+|\/(?:work|tmp|root|home|usr)\//

/**
 * The answer to `input` is its 4xx status as JSON `{error, message}`, the message says what the
 * corpus expects, and nothing internal leaks; huge inputs are not echoed back.
 */
export const expectClearRefusal = (
  answer: { readonly status: number; readonly text: string },
  input: BadInput,
) => {
  expect(answer.status, answer.text.slice(0, 500)).toBe(input.status)
  const body = JSON.parse(answer.text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(["error", "message"])
  expect(typeof body.error).toBe("string")
  const message = String(body.message)
  expect(message).toMatch(input.message)
  expect(message).not.toMatch(INTERNALS)
  expect(message.length).toBeLessThan(1000)
}
