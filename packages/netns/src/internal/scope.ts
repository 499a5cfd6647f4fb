import { Effect, Exit, Scope } from "effect"

/**
 * Runs a scoped acquisition in a child of the caller's scope and closes that child at once if the
 * acquisition fails: a half-built resource (a process that never became ready, a table that did
 * not verify) is released immediately rather than when the caller's scope ends.
 */
export const releaseOnFailure = <A, E, R>(
  acquire: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | Scope.Scope> =>
  Effect.gen(function* () {
    const inner = yield* Scope.fork(yield* Effect.scope)
    return yield* acquire.pipe(
      Scope.provide(inner),
      Effect.onError((cause) => Scope.close(inner, Exit.failCause(cause))),
    )
  })
