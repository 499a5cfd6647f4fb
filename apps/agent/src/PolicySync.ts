/**
 * Every agent enforces the same NetworkPolicies: a namespace's set is published in the DHT as a
 * signed manifest record (newest wins, as every manifest) under the reserved name
 * {@link POLICY_RECORD}, whenever it changes here; every agent polls the records of the
 * namespaces it serves every `intervalMs` and adopts a newer set (by its version, the time of its
 * change). Its sidecars get it with their next lease renewal. A policy applied on one agent is
 * thus enforced by every pod of that namespace on any agent within `intervalMs` (+ the DHT get)
 * + `renewAfterSeconds`.
 */
import { NetworkPolicy } from "@beemesh/contract"
import { Duration, Effect, Exit, Schema } from "effect"
import type { NetworkPolicies } from "./NetworkPolicies"

/** The manifest name a namespace's policy set is stored under (a workload of that name clashes). */
export const POLICY_RECORD = "beemesh-networkpolicies"
/** How often an agent looks for newer sets of the namespaces it serves. */
export const DEFAULT_POLICY_POLL_MS = 5_000

const codec = Schema.fromJsonString(NetworkPolicy.PolicySet)

/** The two registry operations the sync needs (the Registry's manifests). */
export interface PolicyRecords {
  readonly put: (
    namespace: string,
    name: string,
    content: string,
  ) => Effect.Effect<unknown, unknown>
  readonly get: (
    namespace: string,
    name: string,
  ) => Effect.Effect<{ readonly content: string }, unknown>
}

export interface PolicySyncOptions {
  readonly store: NetworkPolicies["Service"]
  readonly records: PolicyRecords
  /** The namespaces this agent serves (its workloads'). */
  readonly namespaces: () => Effect.Effect<ReadonlyArray<string>>
  readonly intervalMs?: number
}

/** Publishes local changes and polls for newer sets until the scope closes. */
export const runPolicySync = Effect.fn("PolicySync.run")(function* (options: PolicySyncOptions) {
  const { store, records } = options
  const publish = (namespace: string) =>
    records
      .put(namespace, POLICY_RECORD, Schema.encodeSync(codec)(store.forNamespace(namespace)))
      .pipe(
        Effect.tap(() => Effect.logDebug(`published the NetworkPolicies of ${namespace}`)),
        Effect.catchCause((cause) =>
          Effect.logWarning(`publishing the NetworkPolicies of ${namespace} failed`, cause),
        ),
      )
  const pending = new Set<string>()
  store.onChange((namespace) => {
    pending.add(namespace)
  })
  const pollOne = (namespace: string) =>
    records.get(namespace, POLICY_RECORD).pipe(
      Effect.exit,
      Effect.flatMap((exit) => {
        if (Exit.isFailure(exit)) return Effect.void // none stored yet, or the DHT did not answer
        const decoded = Schema.decodeUnknownExit(codec)(exit.value.content)
        if (Exit.isFailure(decoded) || decoded.value.namespace !== namespace)
          return Effect.logWarning(
            `the stored NetworkPolicies of ${namespace} are not a policy set; ignored`,
          )
        return store.adopt(decoded.value).pipe(
          Effect.flatMap((adopted) =>
            adopted
              ? Effect.logInfo(
                  `adopted the NetworkPolicies of ${namespace} (version ${decoded.value.version})`,
                )
              : Effect.void,
          ),
          Effect.catch((error) => Effect.logWarning(error.message)),
        )
      }),
    )
  const round = Effect.gen(function* () {
    for (const namespace of [...pending]) {
      pending.delete(namespace)
      yield* publish(namespace)
    }
    const served = yield* options.namespaces()
    yield* Effect.forEach(new Set(served), pollOne, { concurrency: 4, discard: true })
  })
  // Local changes are published at the next tick (1 s); polling runs every intervalMs.
  const intervalMs = options.intervalMs ?? DEFAULT_POLICY_POLL_MS
  yield* Effect.forkScoped(
    Effect.gen(function* () {
      let next = 0
      while (true) {
        if (pending.size > 0 || Date.now() >= next) {
          yield* round
          next = Date.now() + intervalMs
        }
        yield* Effect.sleep(Duration.millis(Math.min(1_000, intervalMs)))
      }
    }),
  )
})
