import { describe, expect, it } from "vitest"
import { ProviderSelector } from "./providerSelector.js"

const id = (p: string) => p

describe("ProviderSelector", () => {
  it("rotates the starting provider to spread load", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000 })
    const firsts = [0, 1, 2, 3].map((i) => selector.order("svc", ["a", "b", "c"], id, i)[0])
    expect(firsts).toEqual(["a", "b", "c", "a"])
  })

  it("tries recently failed providers last, and normally again after the cooldown", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000 })
    selector.markFailed("a", 0)
    expect(selector.order("svc", ["a", "b"], id, 10)).toEqual(["b", "a"])
    expect(selector.order("svc", ["a", "b"], id, 20)).toEqual(["b", "a"])
    expect(selector.order("svc", ["a", "b"], id, 2000)).toEqual(["a", "b"])
  })

  it("forgets a failure once the provider works again", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000 })
    selector.markFailed("a", 0)
    selector.markHealthy("a")
    expect(selector.order("svc", ["a", "b"], id, 10)).toEqual(["a", "b"])
  })

  it("keeps a separate rotation per service and handles no providers", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000 })
    selector.order("one", ["a", "b"], id, 0)
    expect(selector.order("two", ["a", "b"], id, 0)).toEqual(["a", "b"])
    expect(selector.order("none", [], id, 0)).toEqual([])
  })

  it("sets a provider that keeps failing aside for longer each time, up to the cap", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000, maxFailureCooldownMs: 3000 })
    const cooling = (now: number) => selector.isCooling("a", now)
    selector.markFailed("a", 0)
    expect([cooling(999), cooling(1000)]).toEqual([true, false])
    selector.markFailed("a", 1000)
    expect([cooling(2999), cooling(3000)]).toEqual([true, false])
    selector.markFailed("a", 3000)
    expect([cooling(5999), cooling(6000)]).toEqual([true, false])
    selector.markFailed("a", 6000)
    expect([cooling(8999), cooling(9000)]).toEqual([true, false])
  })

  it("counts failures during a cooldown (concurrent callers on one dead provider) as one", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000, maxFailureCooldownMs: 60_000 })
    for (const now of [0, 5, 10, 500]) selector.markFailed("a", now)
    expect([selector.isCooling("a", 999), selector.isCooling("a", 1000)]).toEqual([true, false])
  })

  it("starts over at the base cooldown once the provider has worked again", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000, maxFailureCooldownMs: 60_000 })
    selector.markFailed("a", 0)
    selector.markFailed("a", 1000)
    selector.markHealthy("a")
    selector.markFailed("a", 5000)
    expect([selector.isCooling("a", 5999), selector.isCooling("a", 6000)]).toEqual([true, false])
  })

  it("skips a dead provider while the others are healthy, and tries it again later", () => {
    const selector = new ProviderSelector({ failureCooldownMs: 1000, maxFailureCooldownMs: 4000 })
    selector.markFailed("dead", 0)
    for (const now of [1, 2, 3, 4]) {
      expect(selector.order("svc", ["dead", "b", "c"], id, now).slice(0, 2)).not.toContain("dead")
    }
    expect(selector.order("svc", ["dead", "b", "c"], id, 1000)).toContain("dead")
    expect(selector.order("svc", ["dead"], id, 5)).toEqual(["dead"])
  })
})
