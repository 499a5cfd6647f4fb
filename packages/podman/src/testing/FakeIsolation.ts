/**
 * FakePodman and FakeEgress wired together for unit tests of code that runs enforced pods: a rule
 * set lives in a fake pod's namespace, addressed by its infra container's PID, and is gone when that
 * container stops or its pod is removed, as on a real host.
 */
import { Egress } from "@beemesh/netns"
import { type FakeEgress, makeFakeEgress } from "@beemesh/netns/testing"
import { Effect, Layer } from "effect"
import { PodmanClient } from "../PodmanClient.js"
import { type FakePodman, type FakePodmanBehaviour, makeFakePodman } from "./FakePodman.js"

export interface FakeIsolation {
  readonly podman: FakePodman
  readonly egress: FakeEgress
  /** Both as services. */
  readonly layer: Layer.Layer<PodmanClient | Egress>
}

export const makeFakeIsolation = (
  behaviour: FakePodmanBehaviour = {},
): Effect.Effect<FakeIsolation> =>
  Effect.gen(function* () {
    const podman = yield* makeFakePodman(behaviour)
    const egress = makeFakeEgress({
      namespaceExists: (target) => "pid" in target && podman.isRunningPid(target.pid),
    })
    const layer = Layer.merge(Layer.succeed(PodmanClient, podman), Layer.succeed(Egress, egress))
    return { podman, egress, layer }
  })
