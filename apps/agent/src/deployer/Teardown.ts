/**
 * Removing many replicas at once, each either gone (its pod and its place in the table) or kept
 * whole and reported. Every replica's containers are signalled first, all together, so that their
 * grace periods (a sidecar's unregistering and draining, an app's own shutdown) run at once rather
 * than one after another. Then the pods are removed a few at a time, each as soon as what it was
 * waiting for has exited: a removal spends its time in Podman (runc, conmon's clean-up, the
 * namespace's teardown), which several requests share well on a small host, while too many at
 * once only queue in its service.
 */
import { Clock, Effect, Semaphore } from "effect"
import type { Replica } from "./WorkloadTable"

/**
 * Pods removed at once. Measured on a 2-core host with 50 replicas (the agent README's density
 * figures), when each removal also stopped its pod's containers: 2 at once 16.4 s, 4 13.3 s,
 * 8 15.8 s, 16 20.8 s; more only contend in Podman. Measured again with the signals first (two
 * runs each, alternating): 2 at once 9.2 / 8.4 s, 4 9.3 / 8.9 s, 6 9.7 / 8.3 s, the same within
 * the noise: the removals are bound by the CPU of Podman's clean-up, not by how many wait.
 */
export const REMOVE_CONCURRENCY = 4

/** A replica whose pod could not be removed, and Podman's reason. */
export interface RemovalFailure {
  readonly pod: string
  readonly reason: string
}

/**
 * The steps of a removal. `stop` signals the containers of all the replicas (one result each, in
 * order) and never fails; `stopped` waits until one's have exited (their grace period at most);
 * `remove` removes its pod (only this takes a place in the queue); `removed` runs after a removal
 * that succeeded (say, withdrawing records); `settle` once at the end with what `stop` returned
 * (say, reaping slirp4netns).
 */
export interface Removal<S, E, R> {
  readonly stop: (replicas: ReadonlyArray<Replica>) => Effect.Effect<ReadonlyArray<S>, never, R>
  readonly stopped: (stopping: S) => Effect.Effect<void, never, R>
  readonly remove: (replica: Replica, stopping: S) => Effect.Effect<void, E, R>
  readonly removed?: (replica: Replica) => Effect.Effect<void, never, R>
  readonly settle?: (stopping: ReadonlyArray<S>) => Effect.Effect<void, never, R>
}

/**
 * Removes every replica to the end whatever fails; returns the failures (none when all went).
 * `removal` is a `Removal`, or a single step (the whole removal of one replica, `concurrency` at
 * a time). A replica is forgotten only once its pod is gone.
 */
export const removeReplicas = <S, E extends { readonly message: string }, R>(
  replicas: ReadonlyArray<Replica>,
  removal: Removal<S, E, R> | ((replica: Replica) => Effect.Effect<void, E, R>),
  concurrency: number = REMOVE_CONCURRENCY,
): Effect.Effect<ReadonlyArray<RemovalFailure>, never, R> =>
  Effect.gen(function* () {
    const steps: Removal<S | undefined, E, R> =
      typeof removal === "function"
        ? {
            stop: (all) => Effect.succeed(all.map(() => undefined)),
            stopped: () => Effect.void,
            remove: (replica) => removal(replica),
          }
        : (removal as Removal<S | undefined, E, R>)
    const started = yield* Clock.currentTimeMillis
    const stopping = yield* steps.stop(replicas)
    const signalled = yield* Clock.currentTimeMillis
    const queue = yield* Semaphore.make(concurrency)
    const results = yield* Effect.forEach(
      replicas,
      (replica, i) =>
        steps.stopped(stopping[i]).pipe(
          Effect.andThen(queue.withPermits(1)(steps.remove(replica, stopping[i]))),
          Effect.andThen(steps.removed?.(replica) ?? Effect.void),
          Effect.as(undefined),
          Effect.catch((error) =>
            Effect.succeed<RemovalFailure>({ pod: replica.pod, reason: error.message }),
          ),
        ),
      { concurrency: "unbounded" },
    )
    yield* steps.settle?.(stopping) ?? Effect.void
    const failures = results.filter((r) => r !== undefined)
    // Where a removal's time goes: the signals (Podman's listing), then the shutdowns and removals.
    if (replicas.length > 1)
      yield* Effect.logInfo(
        `removed ${replicas.length - failures.length} of ${replicas.length} replicas in ${(yield* Clock.currentTimeMillis) - started} ms (all signalled after ${signalled - started} ms)`,
      )
    return failures
  })

/**
 * `removal` as one step per replica, all of it (signal, wait, remove, settle) before the next
 * replica's: a StatefulSet's replicas go one after another, each shut down before the next is told.
 */
export const inTurn =
  <S, E, R>(removal: Removal<S, E, R>) =>
  (replica: Replica): Effect.Effect<void, E, R> =>
    removal.stop([replica]).pipe(
      Effect.flatMap((stops) =>
        Effect.forEach(stops, (stopping) =>
          removal
            .stopped(stopping)
            .pipe(
              Effect.andThen(removal.remove(replica, stopping)),
              Effect.andThen(removal.removed?.(replica) ?? Effect.void),
              Effect.ensuring(removal.settle?.([stopping]) ?? Effect.void),
            ),
        ),
      ),
      Effect.asVoid,
    )

/** The failures in one line, for an answer or a log. */
export const describeFailures = (failures: ReadonlyArray<RemovalFailure>) =>
  failures.map((f) => `${f.pod} (${f.reason})`).join("; ")
