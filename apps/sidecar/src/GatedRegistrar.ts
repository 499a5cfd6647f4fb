/**
 * A Registrar that follows the pod's readiness: the services are registered (a Registrar runs in
 * a scope of its own) while every readiness probe passes, and unregistered as soon as one fails
 * its failureThreshold, so that the mesh sends a replica traffic only while it is ready.
 */
import type { Registration } from "@beemesh/contract"
import { Deferred, Effect, Exit, Scope, Stream, SubscriptionRef } from "effect"
import type { AgentClientShape, AgentRejected } from "./AgentClient"
import type { ReadinessGateShape } from "./ReadinessGate"
import {
  Registrar,
  type RegistrarOptions,
  type RegistrarShape,
  type RegistrationStatus,
} from "./Registrar"

export const makeGatedRegistrar = Effect.fn("GatedRegistrar.make")(function* (
  client: AgentClientShape,
  registration: Registration.Registration,
  gate: ReadinessGateShape,
  options: RegistrarOptions = {},
) {
  const refused = yield* Deferred.make<AgentRejected>()
  let current: { readonly scope: Scope.Closeable; readonly registrar: RegistrarShape } | undefined
  let last: RegistrationStatus | undefined

  const withdraw = Effect.suspend(() => {
    if (current === undefined) return Effect.void
    const { scope, registrar } = current
    current = undefined
    last = registrar.status()
    // Closing the Registrar's scope unregisters the pod's services.
    return Scope.close(scope, Exit.void)
  })
  const follow = (ready: boolean) =>
    Effect.gen(function* () {
      if (!ready) return yield* withdraw
      if (current !== undefined) return
      const scope = yield* Scope.make()
      const registrar = yield* Registrar.make(client, registration, options).pipe(
        Scope.provide(scope),
      )
      current = { scope, registrar }
      yield* Deferred.await(registrar.refused).pipe(
        Effect.flatMap((error) => Deferred.succeed(refused, error)),
        Effect.forkIn(scope),
      )
    })

  // Added before the follower starts, so released after it stops: nothing registers afterwards.
  yield* Effect.addFinalizer(() => withdraw)
  yield* SubscriptionRef.changes(gate.ready).pipe(
    Stream.changes,
    Stream.runForEach(follow),
    Effect.forkScoped,
  )

  return {
    refused,
    status: (): RegistrationStatus => {
      if (current !== undefined) return current.registrar.status()
      const reasons = gate.reasons()
      return {
        registered: false,
        registrations: last?.registrations ?? 0,
        renewals: last?.renewals ?? 0,
        failures: last?.failures ?? 0,
        lastError: reasons.length === 0 ? last?.lastError : reasons.join("; "),
      }
    },
  } satisfies RegistrarShape
})
