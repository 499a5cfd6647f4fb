import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseManifests } from "./Manifest"
import { defaultUpdatePolicy, rollingBounds } from "./UpdateStrategy"

const replicated = (kind: string, spec: string) =>
  `{apiVersion: apps/v1, kind: ${kind}, metadata: {name: web}, spec: {replicas: 4, ${spec} template: {spec: {containers: [{name: app, image: localhost/web:1}]}}}}`
const parse = (text: string) => Effect.runSync(Effect.result(parseManifests(text)))
const update = (text: string) => {
  const result = parse(text)
  if (result._tag === "Failure") throw new Error(result.failure.message)
  return result.success[0]?.update
}
const refusal = (text: string) => {
  const result = parse(text)
  return result._tag === "Failure" ? result.failure.message : "accepted"
}

describe("update strategies in manifests", () => {
  it("a Deployment without a strategy gets Kubernetes' defaults: RollingUpdate 25%/25%, 600 s", () => {
    expect(update(replicated("Deployment", ""))).toBeUndefined()
    expect(defaultUpdatePolicy).toEqual({
      type: "RollingUpdate",
      maxSurge: "25%",
      maxUnavailable: "25%",
      progressDeadlineSeconds: 600,
    })
  })

  it("reads maxSurge and maxUnavailable as integers or percentages, and the progress deadline", () => {
    expect(
      update(
        replicated(
          "Deployment",
          `strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 2, maxUnavailable: "50%"}}, progressDeadlineSeconds: 30,`,
        ),
      ),
    ).toEqual({
      type: "RollingUpdate",
      maxSurge: 2,
      maxUnavailable: "50%",
      progressDeadlineSeconds: 30,
    })
    expect(update(replicated("Deployment", "strategy: {type: Recreate},"))).toMatchObject({
      type: "Recreate",
    })
    expect(update(replicated("StatefulSet", "updateStrategy: {type: OnDelete},"))).toMatchObject({
      type: "OnDelete",
    })
  })

  it.each([
    [
      "maxSurge and maxUnavailable both 0",
      replicated("Deployment", "strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: '0%'}},"),
      /maxSurge and maxUnavailable may not both be 0/,
    ],
    [
      "a percentage that is not one",
      replicated("Deployment", "strategy: {rollingUpdate: {maxSurge: 'lots'}},"),
      /maxSurge: must be a non-negative integer or a percentage such as 25%/,
    ],
    [
      "maxUnavailable above 100%",
      replicated("Deployment", "strategy: {rollingUpdate: {maxUnavailable: '150%'}},"),
      /may not be more than 100%/,
    ],
    [
      "rollingUpdate with Recreate",
      replicated("Deployment", "strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}},"),
      /rollingUpdate may not be given when spec.strategy.type is Recreate/,
    ],
    [
      "an unknown strategy type",
      replicated("Deployment", "strategy: {type: BlueGreen},"),
      /spec.*strategy.*type/,
    ],
    [
      "a zero progress deadline",
      replicated("Deployment", "progressDeadlineSeconds: 0,"),
      /progressDeadlineSeconds.*greater than 0/,
    ],
    [
      "a StatefulSet partition",
      replicated("StatefulSet", "updateStrategy: {rollingUpdate: {partition: 2}},"),
      /partition: is not supported/,
    ],
    [
      "a StatefulSet with a Deployment's strategy",
      replicated("StatefulSet", "strategy: {type: Recreate},"),
      /spec\.strategy: unknown field; the fields here are .*updateStrategy/,
    ],
    [
      "a Deployment with a StatefulSet's updateStrategy",
      replicated("Deployment", "updateStrategy: {type: OnDelete},"),
      /spec\.updateStrategy: unknown field; the fields here are .*strategy/,
    ],
  ])("refuses %s, saying what to change", (_, text, message) => {
    expect(refusal(text)).toMatch(message)
  })

  it("bounds: surge rounds up, unavailable rounds down, never both 0", () => {
    expect(rollingBounds(defaultUpdatePolicy, 3)).toEqual({ surge: 1, unavailable: 0 })
    expect(rollingBounds(defaultUpdatePolicy, 10)).toEqual({ surge: 3, unavailable: 2 })
    expect(rollingBounds({ ...defaultUpdatePolicy, maxSurge: 2, maxUnavailable: 1 }, 10)).toEqual({
      surge: 2,
      unavailable: 1,
    })
    // 10% of 1 rounds to 0 both ways: Kubernetes then allows one unavailable.
    expect(
      rollingBounds({ ...defaultUpdatePolicy, maxSurge: "0%", maxUnavailable: "10%" }, 1),
    ).toEqual({ surge: 0, unavailable: 1 })
  })
})
