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
})
