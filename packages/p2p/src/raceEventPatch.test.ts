/**
 * The workspace's patch to race-event (patches/, pnpm `patchedDependencies`): `raceEvent` builds its
 * AbortError when the signal aborts, not at every call. Every read of libp2p's peer store takes a
 * lock (mortice on it-queue) whose `onIdle` is a `raceEvent`, and kad-dht reads the store once per
 * close peer for every query it answers: building an Error (a stack trace) at each one was about
 * 6 % of an idle agent's samples. With the patch an error still rejects an aborted race, made at
 * the abort; the call site is no longer in its stack. This fails if the patch is dropped, for
 * example by a race-event upgrade that does not carry it.
 */
import { raceEvent } from "race-event"
import { describe, expect, it } from "vitest"

/** A distinct frame on the stack of the call to raceEvent (not of the abort). */
const raceFromTheCallSite = (target: EventTarget, signal: AbortSignal) =>
  raceEvent(target, "never", signal, { errorMessage: "gave up", errorCode: "ERR_GAVE_UP" })

describe("race-event (patched)", () => {
  it("an aborted race rejects with an AbortError made at the abort, not at the call", async () => {
    const controller = new AbortController()
    const race = raceFromTheCallSite(new EventTarget(), controller.signal)
    controller.abort()
    const error = await race.then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    )
    expect(error?.name).toBe("AbortError")
    expect(error?.message).toBe("gave up")
    expect(error?.code).toBe("ERR_GAVE_UP")
    expect(error?.stack).not.toContain("raceFromTheCallSite")
  })

  it("an already aborted signal rejects at once; an event resolves and rejects nothing", async () => {
    const aborted = raceFromTheCallSite(new EventTarget(), AbortSignal.abort())
    await expect(aborted).rejects.toMatchObject({ name: "AbortError", code: "ERR_GAVE_UP" })
    const target = new EventTarget()
    const race = raceEvent(target, "ready", new AbortController().signal)
    target.dispatchEvent(new Event("ready"))
    await expect(race).resolves.toBeInstanceOf(Event)
  })
})
