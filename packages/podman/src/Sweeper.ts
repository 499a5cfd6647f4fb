/**
 * Removes pods left behind by owners that no longer exist. A pod is swept only when it carries every
 * required label and its owner process (pid + start time) is provably gone; anything else is kept.
 */
import { Effect } from "effect"
import type { PodmanError } from "./Errors.js"
import { ownerState } from "./internal/owner.js"
import { LABEL_OWNER_PID } from "./Ownership.js"
import { PodmanClient } from "./PodmanClient.js"

export interface SweepOptions {
  /** Labels a pod must carry to be considered, e.g. `{ "io.beemesh.test": "1" }`. */
  readonly requireLabels: Readonly<Record<string, string>>
  readonly stopTimeoutSeconds?: number
}

export interface SweepReport {
  readonly removed: ReadonlyArray<string>
  /** Candidates kept because their owner is alive or unknown. */
  readonly kept: ReadonlyArray<string>
}

export const sweepOrphanedPods = Effect.fn("Sweeper.sweepOrphanedPods")(function* (
  options: SweepOptions,
) {
  const client = yield* PodmanClient
  const candidates = yield* client.pods.list({ labels: options.requireLabels })
  const removed: Array<string> = []
  const kept: Array<string> = []
  for (const pod of candidates) {
    const labels = pod.Labels ?? {}
    const required = Object.entries(options.requireLabels).every(([k, v]) => labels[k] === v)
    if (!required || labels[LABEL_OWNER_PID] === undefined || ownerState(labels) !== "gone") {
      kept.push(pod.Name)
      continue
    }
    const t = options.stopTimeoutSeconds ?? 1
    yield* client.pods
      .remove(pod.Name, { force: true, timeoutSeconds: t })
      .pipe(Effect.catchTag("NotFound", () => Effect.void))
    removed.push(pod.Name)
  }
  return { removed, kept } satisfies SweepReport
}) as (options: SweepOptions) => Effect.Effect<SweepReport, PodmanError, PodmanClient>
