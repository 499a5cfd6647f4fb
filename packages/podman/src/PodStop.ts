/**
 * A pod's termination in three steps, so that a caller removing many pods can overlap what only
 * waits: `stopPod` signals every member's main process straight away (no round trip through
 * Podman's service), `removeStoppedPod` removes the pod once those that handle SIGTERM have exited
 * (or their grace period has run out), and `reapSlirps` kills slirp4netns processes that outlive
 * their pods. Signalled together, a hundred pods spend their grace periods at once instead of one
 * after another inside a removal queue, and the queue is left with Podman's own work only.
 */
import { lstatSync, readFileSync, rmSync } from "node:fs"
import { Duration, Effect, Schedule } from "effect"
import type { PodmanError } from "./Errors.js"
import { unansweredReason } from "./internal/transport.js"
import { LABEL_POD, LABEL_STOP_TIMEOUT } from "./Ownership.js"
import { PodmanClient } from "./PodmanClient.js"
import { holderName } from "./PodRequests.js"
import type { ContainerListEntry } from "./Responses.js"
import { findSlirpProcesses, type SlirpProcess, slirpStillRuns } from "./SlirpProcesses.js"
import { processHandlesSigterm } from "./Termination.js"

/** Podman's own stop timeout, for a pod whose holder does not say its own. */
const PODMAN_DEFAULT_STOP_SECONDS = 10

/** Holders inspected at once. */
const INSPECT_CONCURRENCY = 8

/** How often the exit of signalled processes (and of slirp4netns) is looked for. */
const POLL_MS = 50

/** How long slirp4netns may take to exit once its pod is gone, before it is killed. */
const SLIRP_EXIT_MS = 2000

/**
 * Podman waits only a short while for a killed container's exit file (5 s in Podman 4, "may not
 * be enough on very busy nodes": containers/podman#17142), then fails the removal ("timed out
 * waiting for file /run/libpod/exits/<id>") and leaves the pod. On a loaded host conmon is
 * sometimes later than that (seen at 110 pods on two cores: a few removals in every hundred);
 * the container has been killed, and the same removal a moment later finds its exit.
 */
const conmonLate = (error: PodmanError) =>
  error._tag === "RuntimeFailure" && error.podmanMessage.includes("timed out waiting for file")
const CONMON_RETRIES = 3
const CONMON_RETRY_MS = 1000

/**
 * The service took the removal but gave no answer within the request timeout (120 s). Seen at
 * 110 pods on two cores: every pod signalled at once makes conmon start a `podman container
 * cleanup` for each container that exits (~220), and they and the service's removals queue for
 * Podman's locks; a removal waited more than two minutes behind them. The service goes on with a
 * removal whose client left: asked again, it finds the pod gone, or waits its turn once more.
 * A service that refuses connections or has gone is not asked again.
 */
const unanswered = (error: PodmanError) =>
  error._tag === "PodmanUnavailable" &&
  error.socketsTried.some((socket) => unansweredReason(socket.reason))
const UNANSWERED_RETRIES = 1

/** A pod whose members have been signalled: what `removeStoppedPod` and `reapSlirps` need. */
export interface PodStop {
  readonly name: string
  /** The pod's network namespace path (its slirp4netns names it); undefined without a holder. */
  readonly sandbox: string | undefined
  /** Main processes sent SIGTERM, each with the time (ms since the epoch) it gets SIGKILL. */
  readonly terminating: ReadonlyArray<{ readonly pid: number; readonly deadline: number }>
  /** A signal was refused (not this host's process): removal stops those members through Podman. */
  readonly refused: boolean
  /** The explicit stop timeout the removal passes on for those, if any. */
  readonly timeoutSeconds: number | undefined
  /**
   * The API socket of the pod's slirp4netns (`port_handler=slirp4netns`), which Podman leaves
   * behind: `reapSlirps` removes it once slirp4netns is gone.
   */
  readonly apiSocket?: string
  /**
   * The slirp4netns processes that served the pod when it was signalled (found by `stopPods`'s
   * walk of /proc): `reapSlirps` looks only at these. Absent: `reapSlirps` walks /proc itself.
   */
  readonly slirps?: ReadonlyArray<SlirpProcess>
}

/**
 * Signals the running members of each pod of `names` other than its holder (which must outlive
 * the others: the pod's network goes with it). With `timeoutSeconds` each gets SIGTERM and that
 * long; without, one whose main process neither catches nor blocks SIGTERM gets SIGKILL at once
 * (Termination.ts) and the others SIGTERM and the pod's grace period (the holder's stop timeout,
 * which `createIsolatedPod` gives every member; a member labelled LABEL_STOP_TIMEOUT, the apps of a
 * claimed standby pod or a container with a stop timeout of its own, that many seconds). One
 * listing of Podman's containers serves all the pods (a listing costs Podman a look at every
 * container it has, whatever the filter) and one inspection each finds its holder. Never fails: a pod that is gone, or cannot be listed, is left
 * to the removal.
 */
export const stopPods = Effect.fn("PodStop.stopPods")(function* (
  names: ReadonlyArray<string>,
  timeoutSeconds?: number,
) {
  const client = yield* PodmanClient
  if (names.length === 0) return []
  const only = names.length === 1 ? names[0] : undefined
  const members = yield* client.containers
    .list(only === undefined ? undefined : { pod: only })
    .pipe(Effect.orElseSucceed((): ReadonlyArray<ContainerListEntry> => []))
  const holders = yield* Effect.forEach(
    names,
    (name) => client.containers.inspect(holderName(name)).pipe(Effect.option),
    { concurrency: INSPECT_CONCURRENCY },
  )
  // One walk of /proc for every pod's slirp4netns, read while it still runs.
  const slirps = holders.some((h) => h._tag === "Some") ? yield* findSlirpProcesses() : []
  return names.map((name, i): PodStop => {
    const holder = holders[i]
    const inspected = holder?._tag === "Some" ? holder.value : undefined
    const grace = timeoutSeconds ?? inspected?.Config.StopTimeout ?? PODMAN_DEFAULT_STOP_SECONDS
    const running = members.filter(
      (c) =>
        podOf(c) === name &&
        // "stopping": a stop (a liveness kill: SIGTERM, then SIGKILL after its grace) is under
        // way. Podman 4.3 removes such a container from its store and leaves its process and
        // conmon running (seen twice, under load): it is signalled here like a running one.
        (c.State === "running" || c.State === "stopping") &&
        c.IsInfra !== true &&
        !c.Names.includes(holderName(name)) &&
        (c.Pid ?? 0) > 0,
    )
    const terminating: Array<{ pid: number; deadline: number }> = []
    let refused = false
    for (const c of running) {
      const pid = c.Pid ?? 0
      if (timeoutSeconds === undefined && processHandlesSigterm(pid) === false) {
        refused = !signal(pid, "SIGKILL") || refused
        continue
      }
      // The deadline counts from the signal: the grace period is an upper bound, not a fixed wait.
      const own = Number(c.Labels?.[LABEL_STOP_TIMEOUT] ?? Number.NaN)
      const seconds = timeoutSeconds === undefined && own >= 0 ? own : grace
      if (signal(pid, "SIGTERM")) terminating.push({ pid, deadline: Date.now() + seconds * 1000 })
      else refused = true
    }
    const sandbox = inspected?.NetworkSettings?.SandboxKey || undefined
    const own = sandbox === undefined ? [] : slirps.filter((p) => serves(p, sandbox))
    const apiSocket = apiSocketOf(own)
    return {
      name,
      sandbox,
      terminating,
      refused,
      timeoutSeconds,
      ...(apiSocket === undefined ? {} : { apiSocket }),
      ...(sandbox === undefined ? {} : { slirps: own }),
    }
  })
})

/** `stopPods` of one pod. */
export const stopPod = (
  name: string,
  timeoutSeconds?: number,
): Effect.Effect<PodStop, never, PodmanClient> =>
  stopPods([name], timeoutSeconds).pipe(
    Effect.map(
      (stops): PodStop =>
        stops[0] ?? { name, sandbox: undefined, terminating: [], refused: false, timeoutSeconds },
    ),
  )

/** The pod a listed container belongs to, by the label every member of an isolated pod carries. */
const podOf = (c: ContainerListEntry) => c.Labels?.[LABEL_POD] ?? c.PodName

/**
 * Until every process `stop` sent SIGTERM has exited; one still running when its grace period
 * runs out gets SIGKILL then.
 */
export const awaitStopped = (stop: PodStop): Effect.Effect<void> =>
  Effect.gen(function* () {
    let left = stop.terminating.filter((p) => alive(p.pid))
    while (left.some((p) => Date.now() < p.deadline)) {
      yield* Effect.sleep(Duration.millis(POLL_MS))
      left = left.filter((p) => alive(p.pid))
    }
    for (const p of left) signal(p.pid, "SIGKILL")
  })

/**
 * Removes a pod `stopPod` signalled, once `awaitStopped`: what still runs (the holder) is killed at
 * once, unless a signal was refused, when Podman stops those members with their own (or the
 * explicit) stop timeout. A missing pod is fine; a removal Podman failed because the killed
 * container's exit file came late (`conmonLate`) is tried again.
 */
export const removeStoppedPod = (stop: PodStop): Effect.Effect<void, PodmanError, PodmanClient> =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    const timeoutSeconds = stop.refused ? stop.timeoutSeconds : 0
    yield* client.pods
      .remove(
        stop.name,
        timeoutSeconds === undefined ? { force: true } : { force: true, timeoutSeconds },
      )
      .pipe(
        Effect.catchTag("NotFound", () => Effect.void),
        Effect.retry({
          while: conmonLate,
          schedule: Schedule.spaced(Duration.millis(CONMON_RETRY_MS)),
          times: CONMON_RETRIES,
        }),
        Effect.tapError((error) =>
          unanswered(error)
            ? Effect.logWarning(`pod ${stop.name}: ${error.message}; asking again`)
            : Effect.void,
        ),
        Effect.retry({ while: unanswered, times: UNANSWERED_RETRIES }),
      )
  })

/**
 * slirp4netns exits when Podman tears a pod's network namespace down; those of `stops` still
 * running after a moment are killed. The processes `stopPods` found are looked at again (no new
 * one can name a pod that is gone); for stops that do not carry them, one walk of /proc finds
 * them, and the looks after it read only the processes it found.
 */
export const reapSlirps = (stops: ReadonlyArray<PodStop>): Effect.Effect<void> =>
  Effect.gen(function* () {
    const sandboxes = stops.flatMap((s) =>
      s.sandbox === undefined ? [] : [{ pod: s.name, sandbox: s.sandbox, known: s.slirps }],
    )
    if (sandboxes.length === 0) return
    const deadline = Date.now() + SLIRP_EXIT_MS
    const walked = sandboxes.some((s) => s.known === undefined) ? yield* findSlirpProcesses() : []
    let left = sandboxes.flatMap(({ pod, sandbox, known }) => {
      const slirps =
        known?.filter((p) => slirpStillRuns(p, sandbox)) ?? walked.filter((p) => serves(p, sandbox))
      return slirps.length === 0 ? [] : [{ pod, sandbox, slirps }]
    })
    while (left.length > 0 && Date.now() < deadline) {
      yield* Effect.sleep(Duration.millis(POLL_MS * 2))
      left = left.flatMap((l) => {
        const slirps = l.slirps.filter((p) => slirpStillRuns(p, l.sandbox))
        return slirps.length === 0 ? [] : [{ ...l, slirps }]
      })
    }
    for (const { pod, slirps } of left) {
      yield* Effect.logWarning(
        `pod ${pod}: slirp4netns (pid ${slirps.map((p) => p.pid).join(", ")}) outlived its pod; killing it`,
      )
      for (const { pid } of slirps) signal(pid, "SIGKILL")
    }
    for (const stop of stops) if (stop.apiSocket !== undefined) removeSocket(stop.apiSocket)
  })

/** Whether slirp4netns process `p` serves the network namespace at `sandbox`. */
const serves = (p: SlirpProcess, sandbox: string) => p.args.some((a) => a.includes(sandbox))

/** The `--api-socket` of a pod's slirp4netns, if it has one. */
const apiSocketOf = (slirps: ReadonlyArray<SlirpProcess>) => {
  const args = slirps[0]?.args ?? []
  const at = args.indexOf("--api-socket")
  return at < 0 ? undefined : args[at + 1]
}

/** Removes a leftover slirp4netns API socket: only a socket named as Podman names them. */
const removeSocket = (path: string) => {
  try {
    if (path.endsWith(".net") && lstatSync(path).isSocket()) rmSync(path, { force: true })
  } catch {
    // Gone already, or not ours to read: nothing to clean.
  }
}

/** Sends `sig` to `pid`; false when refused (not when the process is gone already). */
const signal = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}

/** Whether `pid` still runs: a zombie waiting for its conmon to reap it has exited. */
const alive = (pid: number) => {
  try {
    // The state follows the command, which may hold spaces and parentheses: after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}
