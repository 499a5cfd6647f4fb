/**
 * `beemesh apply -f …`: send the manifests, then follow the rollout until every replica is ready
 * and runs the current revision; an update the agent reports stuck fails the command.
 */
import { Effect } from "effect"
import { type WorkloadStatus, workloadPath } from "../Api"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import { RolloutFailed, RolloutTimeout } from "../Errors"
import type { Io } from "../Io"
import { readManifests } from "../Manifests"

const POLL_MS = 500

const progressLine = (w: WorkloadStatus) =>
  `${w.namespace}/${w.name}: ${w.ready}/${w.replicas} ready${
    w.pods.some((p) => p.message !== undefined)
      ? ` (${[...new Set(w.pods.flatMap((p) => (p.message === undefined ? [] : [p.message])))].join("; ")})`
      : ""
  }`

/**
 * Where a workload's rollout stands: done when every replica is ready (and, from an agent that
 * rolls updates, runs the current revision with no replica of an older one left), failed when
 * the agent says it cannot progress.
 */
export const rolloutState = (
  w: WorkloadStatus,
): "done" | "waiting" | { readonly reason: string; readonly message: string } => {
  const progressing = w.conditions?.find((c) => c.type === "Progressing")
  if (progressing?.status === "False") return progressing
  // An update is over when the agent says so: replicas of the replaced version may still be going.
  const settled = progressing === undefined || progressing.reason === "ReplicasAvailable"
  return settled && w.ready >= w.replicas && (w.updated ?? w.replicas) >= w.replicas
    ? "done"
    : "waiting"
}

/** Polls each workload until its rollout is done, printing a line whenever its count changes. */
export const waitForRollout = (
  client: AgentClient,
  io: Io,
  workloads: ReadonlyArray<{ readonly namespace: string; readonly name: string }>,
  timeoutSeconds: number,
) =>
  Effect.gen(function* () {
    const deadline = io.now() + timeoutSeconds * 1000
    const printed = new Map<string, string>()
    let pending: ReadonlyArray<{ readonly namespace: string; readonly name: string }> = workloads
    while (pending.length > 0) {
      const statuses = yield* Effect.forEach(pending, (w) =>
        client.json<WorkloadStatus>("GET", workloadPath(w.namespace, w.name)),
      )
      for (const status of statuses) {
        const line = progressLine(status)
        const key = `${status.namespace}/${status.name}`
        if (printed.get(key) !== line) io.out(`${line}\n`)
        printed.set(key, line)
      }
      for (const status of statuses) {
        const state = rolloutState(status)
        if (typeof state === "object")
          return yield* new RolloutFailed({
            workload: `${status.namespace}/${status.name}`,
            reason: state.reason,
            detail: state.message,
          })
      }
      const notReady = statuses.filter((s) => rolloutState(s) === "waiting")
      pending = notReady
      if (notReady.length === 0) break
      if (io.now() > deadline) {
        return yield* new RolloutTimeout({
          workloads: notReady.map((w) => `${w.namespace}/${w.name} ${w.ready}/${w.replicas}`),
          seconds: timeoutSeconds,
        })
      }
      yield* Effect.sleep(POLL_MS)
    }
  })

export const apply = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const files = o.list("filename")
    if (files.length === 0) return yield* o.usage("apply needs -f FILE, DIR or - (stdin)")
    if (invocation.positionals.length > 0)
      return yield* o.usage(`unexpected argument "${invocation.positionals[0]}"`)
    const timeout = yield* o.number("timeout", 120)
    const text = yield* readManifests(files, io.readStdin)
    const answer = yield* client.json<{
      workloads: ReadonlyArray<WorkloadStatus>
      configs?: ReadonlyArray<{ kind: string; namespace: string; name: string }>
      services?: ReadonlyArray<{ namespace: string; name: string }>
    }>("POST", "/v1/workloads", text)
    for (const c of answer.configs ?? [])
      io.out(`${c.kind.toLowerCase()} ${c.namespace}/${c.name} applied\n`)
    for (const s of answer.services ?? []) io.out(`service ${s.namespace}/${s.name} applied\n`)
    // Workloads last: they include those a changed ConfigMap, Secret or Service rolls.
    for (const w of answer.workloads)
      io.out(`${w.kind.toLowerCase()} ${w.namespace}/${w.name} applied\n`)
    if (o.flag("no-wait")) return 0
    yield* waitForRollout(client, io, answer.workloads, timeout)
    return 0
  })
