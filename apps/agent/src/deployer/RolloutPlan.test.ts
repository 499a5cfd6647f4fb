import { describe, expect, it } from "vitest"
import { defaultUpdatePolicy, type UpdatePolicy } from "../UpdateStrategy"
import { planDeployment, planScale, planStatefulSet, type Slot } from "./RolloutPlan"

const slots = (prefix: string, from: number, available: ReadonlyArray<boolean>): Array<Slot> =>
  available.map((a, i) => ({ pod: `${prefix}${from + i}`, index: from + i, available: a }))
const rolling = (maxSurge: number | string, maxUnavailable: number | string): UpdatePolicy => ({
  ...defaultUpdatePolicy,
  maxSurge,
  maxUnavailable,
})

describe("one step of a Deployment's update", () => {
  it("defaults on 3 replicas: one new replica beyond the count, no old one removed before it is ready", () => {
    const old = slots("old-", 0, [true, true, true])
    expect(planDeployment(defaultUpdatePolicy, 3, [], old)).toEqual({ create: 1, remove: [] })
    const waiting = slots("new-", 3, [false])
    expect(planDeployment(defaultUpdatePolicy, 3, waiting, old)).toEqual({ create: 0, remove: [] })
    const ready = slots("new-", 3, [true])
    // The highest index goes first.
    expect(planDeployment(defaultUpdatePolicy, 3, ready, old)).toEqual({
      create: 0,
      remove: ["old-2"],
    })
  })

  it("maxSurge 0, maxUnavailable 1: an old one goes first, then a new one comes", () => {
    const policy = rolling(0, 1)
    const old = slots("old-", 0, [true, true])
    expect(planDeployment(policy, 2, [], old)).toEqual({ create: 0, remove: ["old-1"] })
    expect(planDeployment(policy, 2, [], old.slice(0, 1))).toEqual({ create: 1, remove: [] })
    // The new one never becomes ready: the last old one stays.
    expect(planDeployment(policy, 2, slots("new-", 2, [false]), old.slice(0, 1))).toEqual({
      create: 0,
      remove: [],
    })
  })

  it("unavailable old replicas go first, within the bounds", () => {
    const old = slots("old-", 0, [true, false, true])
    expect(planDeployment(rolling(0, 1), 3, [], old)).toEqual({ create: 0, remove: ["old-1"] })
  })

  it("percentages: 10 replicas at 25%/25% may run 13 and must keep 8 available", () => {
    const old = slots("old-", 0, Array(10).fill(true))
    expect(planDeployment(defaultUpdatePolicy, 10, [], old).create).toBe(3)
    const created = slots("new-", 10, [false, false, false])
    expect(planDeployment(defaultUpdatePolicy, 10, created, old).remove).toHaveLength(2)
  })

  it("Recreate: every old replica goes before any new one comes", () => {
    const policy: UpdatePolicy = { ...defaultUpdatePolicy, type: "Recreate" }
    const old = slots("old-", 0, [true, true])
    expect(planDeployment(policy, 2, [], old)).toEqual({ create: 0, remove: ["old-0", "old-1"] })
    expect(planDeployment(policy, 2, [], [])).toEqual({ create: 2, remove: [] })
  })

  it("without old replicas it only scales: unavailable and highest indexes go first", () => {
    expect(planScale(3, slots("p-", 0, [true]))).toEqual({ create: 2, remove: [] })
    expect(planScale(1, slots("p-", 0, [true, false, true]))).toEqual({
      create: 0,
      remove: ["p-1", "p-2"],
    })
  })
})

describe("one step of a StatefulSet's update", () => {
  const ordinals = (current: ReadonlyArray<boolean>, available: ReadonlyArray<boolean>) =>
    current.map((c, i) => ({ pod: `web-${i}`, index: i, current: c, available: available[i]! }))

  it("replaces the highest ordinal not yet updated, only when every replica is available", () => {
    expect(
      planStatefulSet(defaultUpdatePolicy, ordinals([false, false, false], [true, true, true])),
    ).toBe("web-2")
    expect(
      planStatefulSet(defaultUpdatePolicy, ordinals([false, false, true], [true, true, false])),
    ).toBeUndefined()
    expect(
      planStatefulSet(defaultUpdatePolicy, ordinals([false, false, true], [true, true, true])),
    ).toBe("web-1")
    expect(
      planStatefulSet(defaultUpdatePolicy, ordinals([true, true, true], [true, true, true])),
    ).toBeUndefined()
  })

  it("OnDelete replaces nothing", () => {
    const policy: UpdatePolicy = { ...defaultUpdatePolicy, type: "OnDelete" }
    expect(planStatefulSet(policy, ordinals([false, false], [true, true]))).toBeUndefined()
  })
})
