import { Egress, type EgressShape, podEgressPolicy } from "@beemesh/netns"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import {
  adoptEnforcedPod,
  createEnforcedPod,
  destroyEnforcedPod,
  makeEnforcedPod,
} from "./IsolatedPod.js"
import { PodmanClient } from "./PodmanClient.js"
import type { PodSpecInput } from "./PodSpec.js"
import { makeFakeIsolation } from "./testing/FakeIsolation.js"

const images = ["localhost/sidecar:1", "localhost/app:1"]
const input: PodSpecInput = {
  name: "web-1",
  hostPort: 18080,
  containers: [
    { name: "sidecar", role: "sidecar", image: "localhost/sidecar:1", user: "1337" },
    { name: "app", role: "app", image: "localhost/app:1" },
  ],
}
const owner = { owner: "unit" }

/** The fakes, with a log of container starts and of what Podman showed when rules came and went. */
const spied = Effect.gen(function* () {
  const fake = yield* makeFakeIsolation({ images })
  const started: Array<string> = []
  const atInstall: Array<ReadonlyArray<readonly [string, string]>> = []
  const podExistedAtRemove: Array<boolean> = []
  const podman = {
    ...fake.podman,
    pods: {
      ...fake.podman.pods,
      start: (name: string) =>
        Effect.sync(() => started.push(`pod ${name}`)).pipe(
          Effect.andThen(fake.podman.pods.start(name)),
        ),
    },
    containers: {
      ...fake.podman.containers,
      init: (name: string) =>
        Effect.sync(() => started.push(`init ${name}`)).pipe(
          Effect.andThen(fake.podman.containers.init(name)),
        ),
      start: (name: string) =>
        Effect.sync(() => started.push(`container ${name}`)).pipe(
          Effect.andThen(fake.podman.containers.start(name)),
        ),
    },
  }
  const egress: EgressShape = {
    ...fake.egress,
    install: (...args) =>
      fake.podman.containers.list({ pod: "web-1" }).pipe(
        Effect.orDie,
        Effect.tap((cs) =>
          Effect.sync(() => atInstall.push(cs.map((c) => [c.Names[0] ?? "", c.State] as const))),
        ),
        Effect.andThen(fake.egress.install(...args)),
      ),
    remove: (...args) =>
      fake.podman.pods.exists("web-1").pipe(
        Effect.orDie,
        Effect.tap((exists) => Effect.sync(() => podExistedAtRemove.push(exists))),
        Effect.andThen(fake.egress.remove(...args)),
      ),
  }
  const layer = Layer.merge(Layer.succeed(PodmanClient, podman), Layer.succeed(Egress, egress))
  return { fake, started, atInstall, podExistedAtRemove, layer }
})

describe("enforced pods on the fake Podman and the fake Egress", () => {
  it.effect(
    "the policy is in force in the holder's namespace before the sidecar, then the app, runs",
    () =>
      Effect.gen(function* () {
        const t = yield* spied
        const pod = yield* createEnforcedPod(input, owner).pipe(Effect.provide(t.layer))
        // Initialized (podman init runs nothing of an image) at most, while the rules go in.
        expect(t.atInstall).toHaveLength(1)
        expect(t.atInstall[0]![0]).toEqual(["web-1-holder", "running"])
        expect(t.atInstall[0]!.slice(1).map(([name]) => name)).toEqual([
          "web-1-sidecar",
          "web-1-app",
        ])
        for (const [, state] of t.atInstall[0]!.slice(1))
          expect(["created", "initialized"]).toContain(state)
        const holder = yield* t.fake.podman.containers.inspect(pod.holderContainerId)
        expect(holder.Name).toBe(pod.holder)
        expect(pod.egress.target).toEqual({ pid: holder.State.Pid, userns: false })
        expect(pod.egress.policy).toEqual(podEgressPolicy([8080]))
        expect([...t.fake.egress.inForce().keys()]).toEqual([`/proc/${holder.State.Pid}/ns/net`])
        expect(t.started).toEqual([
          `container ${pod.holderContainerId}`,
          "init web-1-sidecar",
          "init web-1-app",
          "container web-1-sidecar",
          "container web-1-app",
        ])
        const states = yield* t.fake.podman.containers.list({ pod: "web-1" })
        expect(states.map((c) => c.State)).toEqual(["running", "running", "running"])
      }),
  )

  it.effect("rootless: nft enters the holder process's user namespace", () =>
    Effect.gen(function* () {
      const t = yield* spied
      const pod = yield* createEnforcedPod(input, { ...owner, rootless: true }).pipe(
        Effect.provide(t.layer),
      )
      const pid = (pod.egress.target as { pid: number }).pid
      expect([...t.fake.egress.inForce().keys()]).toEqual([
        `/proc/${pid}/ns/net (user namespace /proc/${pid}/ns/user)`,
      ])
    }),
  )

  it.effect(
    "a policy that cannot be applied: PodEgressFailed, nothing but the holder ran, no pod left",
    () =>
      Effect.gen(function* () {
        const t = yield* spied
        t.fake.egress.failOn("install", "nft: Operation not permitted")
        const error = yield* Effect.flip(
          createEnforcedPod(input, owner).pipe(Effect.provide(t.layer)),
        )
        expect(error).toMatchObject({ _tag: "PodEgressFailed", pod: "web-1", operation: "create" })
        expect(error.message).toContain("nft: Operation not permitted")
        // Only the holder was started; the sidecar and the apps never were.
        expect(t.started).toHaveLength(1)
        expect(t.started[0]).toMatch(/^container /)
        expect(yield* t.fake.podman.pods.list()).toEqual([])
        expect(t.fake.egress.inForce().size).toBe(0)
      }),
  )

  it.effect(
    "adoption: rules in force are verified, not re-applied; missing ones are re-applied",
    () =>
      Effect.gen(function* () {
        const t = yield* spied
        const pod = yield* createEnforcedPod(input, owner).pipe(Effect.provide(t.layer))
        const verified = yield* adoptEnforcedPod("web-1").pipe(Effect.provide(t.layer))
        expect(verified.namespace).toBe(pod.egress.namespace)
        expect(t.fake.egress.installs()).toHaveLength(1)
        t.fake.egress.flush(pod.egress.target)
        yield* adoptEnforcedPod("web-1").pipe(Effect.provide(t.layer))
        expect(t.fake.egress.installs()).toHaveLength(2)
        expect(t.fake.egress.inForce().size).toBe(1)
      }),
  )

  it.effect(
    "adoption: rules that can be neither verified nor re-applied fail PodEgressFailed",
    () =>
      Effect.gen(function* () {
        const t = yield* spied
        const pod = yield* createEnforcedPod(input, owner).pipe(Effect.provide(t.layer))
        t.fake.egress.flush(pod.egress.target)
        t.fake.egress.failOn("install", "nft: table busy")
        const error = yield* Effect.flip(adoptEnforcedPod("web-1").pipe(Effect.provide(t.layer)))
        expect(error).toMatchObject({ _tag: "PodEgressFailed", operation: "adopt" })
        expect(error.message).toContain("recreate the pod")
      }),
  )

  it.effect("adoption of a pod whose holder stopped fails PodEgressFailed", () =>
    Effect.gen(function* () {
      const t = yield* spied
      yield* createEnforcedPod(input, owner).pipe(Effect.provide(t.layer))
      yield* t.fake.podman.pods.stop("web-1")
      const error = yield* Effect.flip(adoptEnforcedPod("web-1").pipe(Effect.provide(t.layer)))
      expect(error.reason).toContain("has no network namespace")
    }),
  )

  it.effect("destroy removes the pod before its rules; releasing them then is a no-op", () =>
    Effect.gen(function* () {
      const t = yield* spied
      const pod = yield* createEnforcedPod(input, owner).pipe(Effect.provide(t.layer))
      // Were the rules released first, this failure would show; after the pod it is never reached.
      t.fake.egress.failOn("remove", "nft: should not be called")
      yield* destroyEnforcedPod(pod).pipe(Effect.provide(t.layer))
      expect(t.podExistedAtRemove).toEqual([false])
      expect(yield* t.fake.podman.pods.list()).toEqual([])
      expect(t.fake.egress.inForce().size).toBe(0)
    }),
  )

  it.effect("as a scoped resource: closing the scope removes the pod and its rules", () =>
    Effect.gen(function* () {
      const t = yield* spied
      const scope = yield* Scope.make()
      yield* makeEnforcedPod(input, owner).pipe(Scope.provide(scope), Effect.provide(t.layer))
      expect(t.fake.egress.inForce().size).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* t.fake.podman.pods.list()).toEqual([])
      expect(t.fake.egress.inForce().size).toBe(0)
      expect(t.podExistedAtRemove).toEqual([false])
    }),
  )
})
