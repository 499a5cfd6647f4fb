/**
 * Keeps the pod's services registered with the agent for as long as the sidecar runs: registers
 * (retrying with capped exponential backoff until the agent answers), renews before the lease
 * runs out, and unregisters when its scope closes.
 */

import type { Registration, Traffic } from "@beemesh/contract"
import { Context, Deferred, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import {
  AgentClient,
  type AgentClientShape,
  type AgentError,
  type AgentRejected,
  isRetryable,
  REQUEST_TIMEOUT_MS,
} from "./AgentClient"

/**
 * How long one renewal may wait for the agent: half of what is left of the lease (`expiresAt`, ms
 * since the epoch), never less than the client's own timeout (undefined: that timeout). A renewal
 * crosses three processes (this sidecar, its pod's slirp4netns, the agent), and on a host whose
 * cores are all busy (110 pods being made on two) each waits its turn for one at every step: an
 * attempt given up after 3 s and started again on a new connection lost all that waiting, and
 * leases lapsed (18 of 110 in one run) while the agent was answering others. Half of what is left
 * leaves time for another attempt.
 */
export const renewalTimeoutMs = (expiresAt: number, now: number): number | undefined => {
  const half = Math.floor((expiresAt - now) / 2)
  return half > REQUEST_TIMEOUT_MS ? half : undefined
}

export interface RegistrationStatus {
  /** True while the last successful registration's lease has not expired. */
  readonly registered: boolean
  readonly registrations: number
  readonly renewals: number
  readonly failures: number
  readonly lastError: string | undefined
}

export interface RegistrarOptions {
  /** First retry delay (default 100 ms). */
  readonly initialBackoffMs?: number
  /** Longest retry delay (default 5000 ms). */
  readonly maxBackoffMs?: number
  /** How long unregistering may take at shutdown (default 800 ms). */
  readonly unregisterTimeoutMs?: number
  /** The traffic report sent with every registration and renewal (none when absent). */
  readonly traffic?: () => Traffic.TrafficReport
  /** Told every lease as it arrives (its membership certificates, its NetworkPolicies …). */
  readonly onLease?: (lease: Registration.Lease) => void
}

export interface RegistrarShape {
  readonly status: () => RegistrationStatus
  /** Completes if the agent refuses the registration for good (4xx): the sidecar cannot work. */
  readonly refused: Deferred.Deferred<AgentRejected>
}

export class Registrar extends Context.Service<Registrar, RegistrarShape>()(
  "@beemesh/sidecar/Registrar",
) {
  /** Starts the keep-registered loop in the current scope; unregisters when the scope closes. */
  static readonly make = Effect.fn("Registrar.make")(function* (
    client: AgentClientShape,
    registration: Registration.Registration,
    options: RegistrarOptions = {},
  ) {
    const backoff = Schedule.min([
      Schedule.exponential(Duration.millis(options.initialBackoffMs ?? 100), 2),
      Schedule.spaced(Duration.millis(options.maxBackoffMs ?? 5000)),
    ])
    const state = {
      registrations: 0,
      renewals: 0,
      failures: 0,
      lastError: undefined as string | undefined,
      expiresAt: 0,
    }
    const refused = yield* Deferred.make<AgentRejected>()

    const traffic = options.traffic
    const registerOnce = Effect.suspend(() =>
      client.register(
        traffic === undefined ? registration : { ...registration, traffic: traffic() },
        renewalTimeoutMs(state.expiresAt, Date.now()),
      ),
    ).pipe(
      Effect.tapError((error: AgentError) =>
        Effect.sync(() => {
          state.failures++
          state.lastError = error.message
        }).pipe(Effect.andThen(Effect.logWarning(`registration failed: ${error.message}`))),
      ),
      Effect.retry({ schedule: backoff, while: isRetryable }),
    )

    const loop = Effect.gen(function* () {
      while (true) {
        const asked = Date.now()
        const lease = yield* registerOnce
        const answered = Date.now()
        options.onLease?.(lease)
        if (state.registrations === 0) yield* Effect.logInfo("registered with the agent")
        else {
          state.renewals++
          // Slow renewals say so: a busy host shows here before a lease lapses.
          if (answered > state.expiresAt)
            yield* Effect.logWarning(
              `renewed ${((answered - state.expiresAt) / 1000).toFixed(1)} s after the lease ran out (the agent had withdrawn the pod's services meanwhile)`,
            )
          else if (answered - asked > REQUEST_TIMEOUT_MS)
            yield* Effect.logWarning(`renewal answered after ${answered - asked} ms`)
        }
        state.registrations++
        state.lastError = undefined
        state.expiresAt = Date.now() + lease.ttlSeconds * 1000
        // Renew early enough that one failed attempt and a retry still fit inside the TTL.
        const renewIn = Math.min(lease.renewAfterSeconds, lease.ttlSeconds * 0.8)
        yield* Effect.sleep(Duration.millis(renewIn * 1000))
      }
    }).pipe(
      Effect.catch((error: AgentError) =>
        error._tag === "AgentRejected"
          ? Effect.logError(`the agent refused the registration: ${error.message}`).pipe(
              Effect.andThen(Deferred.succeed(refused, error)),
            )
          : Effect.void,
      ),
    )

    const fiber = yield* Effect.forkDetach(loop)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Fiber.interrupt(fiber)
        if (state.registrations === 0) return
        state.expiresAt = 0
        yield* client.unregister().pipe(
          Effect.timeout(Duration.millis(options.unregisterTimeoutMs ?? 800)),
          Effect.tap(() => Effect.logInfo("unregistered from the agent")),
          Effect.catch((error) => Effect.logWarning(`unregister failed: ${error.message}`)),
        )
      }),
    )

    return {
      refused,
      status: (): RegistrationStatus => ({
        registered: Date.now() < state.expiresAt,
        registrations: state.registrations,
        renewals: state.renewals,
        failures: state.failures,
        lastError: state.lastError,
      }),
    } satisfies RegistrarShape
  })

  static readonly layer = (
    registration: Effect.Effect<Registration.Registration, never, never>,
    options?: RegistrarOptions,
  ): Layer.Layer<Registrar, never, AgentClient> =>
    Layer.effect(
      Registrar,
      Effect.gen(function* () {
        const client = yield* AgentClient
        return yield* Registrar.make(client, yield* registration, options)
      }),
    )
}
