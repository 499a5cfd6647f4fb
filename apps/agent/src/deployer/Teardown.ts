/**
 * Removing many replicas at once, each either gone (its pod and its place in the table) or kept
 * whole and reported. Removals run a few at a time: each spends most of its time in Podman (runc,
 * conmon's clean-up, the namespace's teardown), which several requests share well on a small host,
 * while too many at once only queue in its service.
 */
import { Effect } from "effect"
import type { Replica } from "./WorkloadTable"

/**
 * Pods removed at once. Measured on a 2-core host with 50 replicas (the agent README's density
 * figures): 2 at once 16.4 s, 4 13.3 s, 8 15.8 s, 16 20.8 s; more only contend in Podman.
 */
export const REMOVE_CONCURRENCY = 4

/** A replica whose pod could not be removed, and Podman's reason. */
export interface RemovalFailure {
  readonly pod: string
  readonly reason: string
}

/**
 * Runs `remove` for every replica, `concurrency` at a time, to the end whatever fails; returns the
 * failures (none when all went). `remove` forgets a replica only once its pod is gone.
 */
export const removeReplicas = <E extends { readonly message: string }, R>(
  replicas: ReadonlyArray<Replica>,
  remove: (replica: Replica) => Effect.Effect<void, E, R>,
  concurrency: number = REMOVE_CONCURRENCY,
): Effect.Effect<ReadonlyArray<RemovalFailure>, never, R> =>
  Effect.forEach(
    replicas,
    (replica) =>
      remove(replica).pipe(
        Effect.as(undefined),
        Effect.catch((error) =>
          Effect.succeed<RemovalFailure>({ pod: replica.pod, reason: error.message }),
        ),
      ),
    { concurrency },
  ).pipe(Effect.map((results) => results.filter((r) => r !== undefined)))

/** The failures in one line, for an answer or a log. */
export const describeFailures = (failures: ReadonlyArray<RemovalFailure>) =>
  failures.map((f) => `${f.pod} (${f.reason})`).join("; ")
