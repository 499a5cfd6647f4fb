import { Effect, Layer } from "effect"
import { PodmanClient } from "../../src/index.js"
import { sweepOrphanedPods } from "../../src/Sweeper.js"
import { requirePrerequisites } from "./prerequisites.js"

/**
 * The client the integration tests use: a system service if one answers, else an embedded one.
 * Before use, removes test pods whose owner process is gone (leftovers of a crashed run); pods of
 * live owners (other suites running now) are left alone.
 */
export const testClientLayer = Layer.effect(
  PodmanClient,
  Effect.gen(function* () {
    yield* Effect.sync(requirePrerequisites)
    const client = yield* PodmanClient
    yield* sweepOrphanedPods({ requireLabels: { "io.beemesh.test": "1" } }).pipe(
      Effect.provideService(PodmanClient, client),
    )
    return client
  }),
).pipe(Layer.provide(PodmanClient.layer({})))
