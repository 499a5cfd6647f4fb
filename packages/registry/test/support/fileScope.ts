import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"

/**
 * The scope of the nodes a test file starts: made before its tests (before the file's own
 * `beforeAll`, which may start nodes in it), closed after them, so every node stops however the
 * tests end. `run` runs an effect in it; `scope()` is it, for forking child scopes.
 */
export const fileScope = () => {
  let scope: Scope.Closeable | undefined
  beforeAll(() => {
    scope = Effect.runSync(Scope.make())
  })
  afterAll(async () => {
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })
  const current = (): Scope.Closeable => {
    if (scope === undefined) throw new Error("fileScope: used before its beforeAll ran")
    return scope
  }
  return {
    scope: current,
    run: <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
      Effect.runPromise(Scope.provide(effect, current())),
  }
}
