/**
 * When a replica that is not whole comes back (pure). As the kubelet does for a container that
 * exits: the first restart is immediate, each next one waits 10 s, doubling, capped at 5 min; a
 * replica that ran 10 min before it failed starts over at an immediate restart. A pod that is gone
 * (removed, its holder or slirp4netns dead) is replaced at once, as a ReplicaSet replaces a deleted
 * pod; so is a replica whose creation failed (it is retried on every reconcile pass).
 *
 * A Pod's `restartPolicy` decides whether an app that exited comes back: `Always` (the default,
 * and the only one a Deployment or StatefulSet takes), `OnFailure` (only after a non-zero code) or
 * `Never`. An app that is not restarted ends the replica: Succeeded on code 0, else Failed, and it
 * is left as it is. The sidecar and the pod's network are the agent's, not the app's: losing them
 * is repaired whatever the policy.
 *
 * A container Podman is stopping (the agent's own kill after a failed liveness probe, or an
 * operator's `podman stop`) is on its way to an exit: the replica is left until that exit, which
 * is then backed off as any other, for at most `STOPPING_WAIT_MS`; a stop still under way after
 * that is taken as stuck and the pod is replaced.
 */
import type { ReplicaPhase } from "../Workloads"

export type RestartPolicy = "Always" | "OnFailure" | "Never"

/** The sidecar's container name in a Problem: its exit is the agent's to repair. */
const SIDECAR = "sidecar"

export const RESTART_BACKOFF = {
  initialMs: 10_000,
  maxMs: 5 * 60_000,
  /** A replica that ran this long without failing has its back-off reset. */
  resetAfterMs: 10 * 60_000,
} as const

/** How long a container may be seen stopping before its replica is replaced without its exit. */
export const STOPPING_WAIT_MS = 30_000

/** Why a replica is not whole, as ReplicaPods finds it. */
export interface Problem {
  readonly message: string
  /** Set when a container of the pod exited (rather than the pod or its network being gone). */
  readonly exited?: {
    readonly container: string
    readonly exitCode: number
    readonly logTail: ReadonlyArray<string>
  }
  /** Set when the first container that is down is still being stopped: its exit is coming. */
  readonly stopping?: true
}

export interface RestartState {
  readonly phase: ReplicaPhase
  /** When its current pod was created (or adopted), epoch ms. */
  readonly startedAt: number | undefined
  /** The delay before the next restart after a container exit (0: immediate). */
  readonly backoffMs: number
  /** When a replica in CrashLoopBackOff is due, epoch ms. */
  readonly restartAt: number | undefined
  /** Its app ended and its restartPolicy keeps it so: nothing more is done with it. */
  readonly ended?: boolean | undefined
  /** Since when (epoch ms) a container of its pod has been seen stopping, if one is. */
  readonly stoppingSince?: number | undefined
}

export type Decision =
  /** Whole, or nothing to do yet. */
  | { readonly _tag: "Leave" }
  /** Never created: create it. */
  | { readonly _tag: "Create" }
  /** Recreate it now; `backoffMs` is the delay for the next container exit. */
  | { readonly _tag: "Restart"; readonly backoffMs: number }
  /** A container exited: wait `delayMs` before restarting it. */
  | { readonly _tag: "BackOff"; readonly delayMs: number; readonly backoffMs: number }
  /** An app exited and the policy does not restart it: the replica ends in this phase. */
  | { readonly _tag: "End"; readonly phase: "Succeeded" | "Failed" }

/** The back-off after a container exit: this delay, and the one for the exit after it. */
export const nextBackoff = (currentMs: number, ranForMs: number) => {
  const delayMs = ranForMs >= RESTART_BACKOFF.resetAfterMs ? 0 : currentMs
  return {
    delayMs,
    backoffMs:
      delayMs === 0 ? RESTART_BACKOFF.initialMs : Math.min(delayMs * 2, RESTART_BACKOFF.maxMs),
  }
}

/** Whether the policy restarts an app that exited with `exitCode`. */
export const restarts = (policy: RestartPolicy, exitCode: number) =>
  policy === "Always" || (policy === "OnFailure" && exitCode !== 0)

export const decide = (
  replica: RestartState,
  problem: Problem | undefined,
  now: number,
  policy: RestartPolicy = "Always",
): Decision => {
  if (replica.ended === true) return { _tag: "Leave" }
  if (replica.phase === "Pending") return { _tag: "Create" }
  if (replica.phase === "CrashLoopBackOff")
    return now >= (replica.restartAt ?? now)
      ? { _tag: "Restart", backoffMs: replica.backoffMs }
      : { _tag: "Leave" }
  if (problem === undefined) return { _tag: "Leave" }
  if (problem.stopping === true && now - (replica.stoppingSince ?? now) < STOPPING_WAIT_MS)
    return { _tag: "Leave" }
  if (replica.phase === "Failed" || problem.exited === undefined)
    return { _tag: "Restart", backoffMs: replica.backoffMs }
  const { container, exitCode } = problem.exited
  if (container !== SIDECAR && !restarts(policy, exitCode))
    return { _tag: "End", phase: exitCode === 0 ? "Succeeded" : "Failed" }
  const { delayMs, backoffMs } = nextBackoff(replica.backoffMs, now - (replica.startedAt ?? now))
  return delayMs === 0 ? { _tag: "Restart", backoffMs } : { _tag: "BackOff", delayMs, backoffMs }
}

/** `10s`, `2m40s`, `5m`: as the kubelet's back-off messages show a delay. */
export const formatDelay = (ms: number) => {
  const s = Math.round(ms / 1000)
  const m = Math.floor(s / 60)
  return m === 0 ? `${s}s` : s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
}
