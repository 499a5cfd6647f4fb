/**
 * The agent's part of a pod's probes (its sidecar schedules them all, @beemesh/contract
 * ProbeReport): it runs exec probes in app containers, which only it can enter (nsenter, see
 * `appExecArgv`), and acts on liveness and startup failures by stopping the container, as the
 * kubelet kills it: the reconciler sees the exit and restarts the replica with its back-off.
 *
 * An exec probe runs the command of the agent's own copy of the replica's manifest (the request
 * only names the probe), bounded by its timeoutSeconds (the process group is killed then), with at
 * most `maxInFlight` commands at a time on the host; a probe that waits its whole timeout for a
 * slot fails without running. Its messages do not repeat the command: the sidecar puts the probe's
 * description, which names it, in front of them.
 */
import type { ProbeReport, ReadinessProbe } from "@beemesh/contract"
import { appExecArgv } from "@beemesh/podman"
import { Context, Data, Duration, Effect, Layer, Semaphore } from "effect"
import type { ContainerTemplate, Workload } from "../Manifest"
import type { PodIdentity } from "../Tokens"
import { podNameOf, workloadKey } from "./PodTemplate"
import { ReplicaPods } from "./ReplicaPods"
import { type Replica, recordEvent, WorkloadTable } from "./WorkloadTable"

/** Commands in flight at once, host-wide: each is a process tree entering a pod's namespaces. */
export const DEFAULT_MAX_EXEC_IN_FLIGHT = 4
/** How long a container stopped for a failed probe gets before SIGKILL. */
export const KILL_GRACE_SECONDS = 2
/** Output kept in an exec probe's failure message. */
const OUTPUT_MAX = 200

/** What running a command gave: its exit code, or that it ran out of time. */
export interface CommandOutcome {
  readonly exitCode: number | undefined
  readonly timedOut: boolean
  readonly output: string
}

/** Runs an argument vector, killing its process group after `timeoutMs`. */
export type CommandRunner = (
  argv: readonly [string, ...Array<string>],
  timeoutMs: number,
) => Effect.Effect<CommandOutcome>

export class ProbeNotFound extends Data.TaggedError("ProbeNotFound")<{
  readonly pod: string
  readonly probe: string
  readonly container: string
}> {
  override get message() {
    return `pod ${this.pod} has no ${this.probe} probe on container ${this.container} in its manifest`
  }
}

const FIELD = {
  readiness: "readinessProbe",
  liveness: "livenessProbe",
  startup: "startupProbe",
} as const

export interface ReplicaProbesOptions {
  readonly maxInFlight?: number
  readonly runCommand: CommandRunner
}

export class ReplicaProbes extends Context.Service<
  ReplicaProbes,
  {
    /** Runs the pod's exec probe once (the command of the manifest, never one from the request). */
    readonly exec: (
      identity: PodIdentity,
      request: ProbeReport.ExecRequest,
    ) => Effect.Effect<ProbeReport.ExecResult, ProbeNotFound>
    /** A liveness or startup probe failed past its threshold: the container is stopped. */
    readonly failed: (
      identity: PodIdentity,
      failure: ProbeReport.ProbeFailure,
    ) => Effect.Effect<void, ProbeNotFound>
  }
>()("@beemesh/agent/ReplicaProbes") {
  static readonly layer = (options: ReplicaProbesOptions) =>
    Layer.effect(ReplicaProbes, make(options))
}

/** The workload version the replica's pod runs (an old replica of an update runs its own). */
const versionOf = (table: WorkloadTable["Service"], replica: Replica): Workload | undefined => {
  const workload = table.desired.get(replica.workload)
  if (workload === undefined || replica.spec === undefined) return workload
  return table.rollouts.get(replica.workload)?.versions.get(replica.spec) ?? workload
}

const make = (options: ReplicaProbesOptions) =>
  Effect.gen(function* () {
    const table = yield* WorkloadTable
    const pods = yield* ReplicaPods
    const slots = yield* Semaphore.make(options.maxInFlight ?? DEFAULT_MAX_EXEC_IN_FLIGHT)
    /** `pod/container` of the kills under way: a failure reported again meanwhile is the same. */
    const killing = new Set<string>()

    /** The replica and its container's probe of that kind, as its manifest has it. */
    const find = (identity: PodIdentity, kind: ProbeReport.ProbeKind, container: string) =>
      Effect.suspend(() => {
        const pod = podNameOf(identity, identity.pod)
        const replica = table.replicas.get(pod)
        const notFound = new ProbeNotFound({ pod, probe: kind, container })
        if (replica?.workload !== workloadKey(identity.namespace, identity.workload))
          return Effect.fail(notFound)
        const template: ContainerTemplate | undefined = versionOf(table, replica)?.containers.find(
          (c) => c.name === container,
        )
        const probe: ReadinessProbe.ReadinessProbe | undefined = template?.[FIELD[kind]]
        return probe === undefined ? Effect.fail(notFound) : Effect.succeed({ replica, probe })
      })

    const exec = Effect.fn("ReplicaProbes.exec")(function* (
      identity: PodIdentity,
      request: ProbeReport.ExecRequest,
    ) {
      const { replica, probe } = yield* find(identity, request.probe, request.container)
      if (probe.action !== "exec")
        return yield* new ProbeNotFound({
          pod: replica.pod,
          probe: `${request.probe} exec`,
          container: request.container,
        })
      const timeoutMs = probe.timeoutSeconds * 1000
      const target = yield* pods.appProcesses(replica.podman, request.container)
      if (target === undefined)
        return { ok: false, message: `container ${request.container} is not running` }
      // Only the wait for a slot is bounded here; the runner kills the command at its timeout.
      const outcome = yield* Effect.acquireUseRelease(
        Semaphore.take(slots, 1).pipe(Effect.timeoutOption(Duration.millis(timeoutMs))),
        (slot) =>
          slot._tag === "None"
            ? Effect.succeedNone
            : Effect.asSome(options.runCommand(appExecArgv(target, probe.command), timeoutMs)),
        (slot) => (slot._tag === "None" ? Effect.void : Semaphore.release(slots, 1)),
      )
      if (outcome._tag === "None")
        return {
          ok: false,
          message: `waited ${probe.timeoutSeconds}s for one of the host's ${options.maxInFlight ?? DEFAULT_MAX_EXEC_IN_FLIGHT} exec probe slots (timeoutSeconds)`,
        }
      const { exitCode, timedOut, output } = outcome.value
      if (timedOut)
        return {
          ok: false,
          message: `did not finish within ${probe.timeoutSeconds}s (timeoutSeconds); killed`,
        }
      const tail = output.trim().slice(-OUTPUT_MAX)
      return exitCode === 0
        ? { ok: true, message: "exited 0" }
        : {
            ok: false,
            message: `exited with code ${exitCode ?? "unknown"}${tail === "" ? "" : `: ${tail}`}`,
          }
    })

    const failed = Effect.fn("ReplicaProbes.failed")(function* (
      identity: PodIdentity,
      failure: ProbeReport.ProbeFailure,
    ) {
      const { replica } = yield* find(identity, failure.probe, failure.container)
      // Already on its way down (being killed, or recreated): nothing to kill. The kubelet, too,
      // does not probe a container it is killing.
      const target = `${replica.podman}/${failure.container}`
      if (replica.phase !== "Running" || table.inFlight.has(replica.pod) || killing.has(target))
        return
      yield* Effect.acquireUseRelease(
        Effect.sync(() => killing.add(target)),
        () =>
          Effect.gen(function* () {
            const kind = failure.probe === "liveness" ? "Liveness" : "Startup"
            yield* recordEvent(replica, "Unhealthy", `${kind} probe failed: ${failure.message}`)
            yield* recordEvent(
              replica,
              "Killing",
              `Container ${failure.container} failed ${failure.probe} probe, will be restarted`,
            )
            replica.message = `${kind} probe of container ${failure.container} failed: ${failure.message}`
            replica.ready = false
            yield* Effect.logWarning(
              `replica ${replica.workload}#${replica.name}: ${replica.message}; stopping the container`,
            )
            yield* pods
              .kill(replica.podman, failure.container, KILL_GRACE_SECONDS)
              .pipe(
                Effect.catch((error) =>
                  Effect.logError(
                    `stopping ${replica.pod}/${failure.container} failed: ${error.message}`,
                  ),
                ),
              )
          }),
        () => Effect.sync(() => killing.delete(target)),
      )
    })

    return ReplicaProbes.of({ exec, failed })
  })
