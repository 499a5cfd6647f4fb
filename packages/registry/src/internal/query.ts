import type { QueryEvent } from "@libp2p/kad-dht"
import { Effect } from "effect"
import { DhtOperationFailed } from "../Errors.js"

export interface Drained<S> {
  readonly state: S
  /** The deadline passed before the query finished; `state` holds what arrived until then. */
  readonly timedOut: boolean
}

/**
 * Runs one kad-dht query (always under an abort signal: kad-dht's own default is 180 s) and
 * folds its events. Reaching the deadline is not an error: DHT walks are best effort, and the
 * caller decides whether the partial result suffices. Interruption aborts the query. An error
 * `partialOn` accepts ends the query with what arrived until then, like the deadline.
 */
export const drain = <S>(
  operation: string,
  key: string,
  timeoutMs: number,
  run: (signal: AbortSignal) => AsyncIterable<QueryEvent>,
  initial: S,
  step: (state: S, event: QueryEvent) => S,
  partialOn: (error: unknown) => boolean = () => false,
): Effect.Effect<Drained<S>, DhtOperationFailed> =>
  Effect.tryPromise({
    try: async (interrupt) => {
      const deadline = AbortSignal.timeout(timeoutMs)
      let state = initial
      try {
        for await (const event of run(AbortSignal.any([interrupt, deadline]))) {
          state = step(state, event)
        }
      } catch (error) {
        if (deadline.aborted && !interrupt.aborted) return { state, timedOut: true }
        if (!interrupt.aborted && partialOn(error)) return { state, timedOut: false }
        throw error
      }
      return { state, timedOut: false }
    },
    catch: (cause) => new DhtOperationFailed({ operation, key, cause }),
  }).pipe(Effect.withSpan(`dht.${operation}`, { attributes: { key } }))
