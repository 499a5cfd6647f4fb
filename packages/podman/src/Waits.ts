/**
 * Waits on containers, each polling with a deadline and failing with WaitTimedOut that says what
 * was awaited and what was last seen. Podman errors other than "not yet" end the wait at once.
 */
import { Effect } from "effect"
import { type PodmanError, WaitTimedOut } from "./Errors.js"
import { PodmanClient } from "./PodmanClient.js"

export interface WaitOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
}

type Probe = Effect.Effect<
  { readonly done: boolean; readonly observed: string },
  PodmanError,
  PodmanClient
>

const poll = (condition: string, target: string, probe: Probe, options: WaitOptions = {}) =>
  Effect.gen(function* () {
    const timeoutMs = options.timeoutMs ?? 30_000
    const deadline = Date.now() + timeoutMs
    let observed = "nothing yet"
    while (true) {
      const result = yield* probe
      observed = result.observed
      if (result.done) return
      if (Date.now() >= deadline) {
        return yield* Effect.fail(
          new WaitTimedOut({ condition, target, timeoutMs, lastObserved: observed }),
        )
      }
      yield* Effect.sleep(options.intervalMs ?? 100)
    }
  })

/** Until the container is running; a container that exited ends the wait with its exit code. */
export const waitForRunning = Effect.fn("Waits.waitForRunning")(function* (
  name: string,
  options?: WaitOptions,
) {
  const client = yield* PodmanClient
  yield* poll(
    "the container to run",
    name,
    client.containers.inspect(name).pipe(
      Effect.map((c) => ({
        done: c.State.Running,
        observed: `status ${c.State.Status}${c.State.Status === "exited" ? ` (exit code ${c.State.ExitCode})` : ""}`,
      })),
    ),
    options,
  )
})

/** Until a TCP port listens in the container's network namespace (shared by the whole pod). */
export const waitForPort = Effect.fn("Waits.waitForPort")(function* (
  name: string,
  port: number,
  options?: WaitOptions,
) {
  const client = yield* PodmanClient
  yield* poll(
    `TCP port ${port} to listen`,
    name,
    client.containers.listeningPorts(name).pipe(
      Effect.map((ports) => ({
        done: ports.includes(port),
        observed: ports.length === 0 ? "no listening ports" : `listening: ${ports.join(", ")}`,
      })),
    ),
    options,
  )
})

/** Until a line of the container's output (stdout or stderr) matches. */
export const waitForLogLine = Effect.fn("Waits.waitForLogLine")(function* (
  name: string,
  pattern: RegExp | string,
  options?: WaitOptions,
) {
  const client = yield* PodmanClient
  const matches = (line: string) =>
    typeof pattern === "string" ? line.includes(pattern) : pattern.test(line)
  yield* poll(
    `a log line matching ${String(pattern)}`,
    name,
    client.containers.logs(name).pipe(
      Effect.map(({ stdout, stderr }) => {
        const lines = `${stdout}\n${stderr}`.split("\n").filter((l) => l !== "")
        return { done: lines.some(matches), observed: lines.at(-1) ?? "no output" }
      }),
    ),
    options,
  )
})

/**
 * Until the container's healthcheck passes. Runs the check on each poll (through the API) rather
 * than relying on Podman's systemd timers, which hosts without systemd do not have.
 */
export const waitForHealthy = Effect.fn("Waits.waitForHealthy")(function* (
  name: string,
  options?: WaitOptions,
) {
  const client = yield* PodmanClient
  yield* poll(
    "the healthcheck to pass",
    name,
    client.containers
      .healthcheck(name)
      .pipe(Effect.map((status) => ({ done: status === "healthy", observed: status }))),
    { intervalMs: 250, ...options },
  )
})
