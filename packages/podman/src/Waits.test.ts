import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { PodmanClient } from "./PodmanClient.js"
import { makeFakePodman } from "./testing/FakePodman.js"
import { waitForLogLine, waitForPort, waitForRunning } from "./Waits.js"

const withFake = <A, E>(effect: Effect.Effect<A, E, PodmanClient>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const fake = yield* makeFakePodman({
        images: ["localhost/a:1"],
        listeningPorts: () => [8080],
        logs: () => ({ stdout: "booting\nready on 8080\n", stderr: "" }),
      })
      yield* fake.containers.create({ name: "c1", image: "localhost/a:1" })
      return yield* Effect.result(Effect.provideService(effect, PodmanClient, fake))
    }),
  )

describe("waits", () => {
  it("a container that never starts times out with WaitTimedOut naming it and its status", async () => {
    const r = await withFake(waitForRunning("c1", { timeoutMs: 150, intervalMs: 20 }))
    expect(r).toMatchObject({
      _tag: "Failure",
      failure: {
        _tag: "WaitTimedOut",
        target: "c1",
        timeoutMs: 150,
        lastObserved: "status created",
      },
    })
  })

  it("ends as soon as the condition holds", async () => {
    const started = Effect.gen(function* () {
      const client = yield* PodmanClient
      yield* client.containers.start("c1")
      yield* waitForRunning("c1", { timeoutMs: 1000 })
      yield* waitForPort("c1", 8080, { timeoutMs: 1000 })
      yield* waitForLogLine("c1", /ready on \d+/, { timeoutMs: 1000 })
    })
    expect((await withFake(started))._tag).toBe("Success")
  })

  it("a Podman error ends the wait at once", async () => {
    const r = await withFake(waitForRunning("nope", { timeoutMs: 5000 }))
    expect(r).toMatchObject({
      _tag: "Failure",
      failure: { _tag: "NotFound", kind: "container", name: "nope" },
    })
  })
})
