/**
 * Runs one probe once against the pod's loopback, which the sidecar shares with its apps:
 * `httpGet` passes on an HTTP status 200-399 (redirects are not followed, as in Kubernetes),
 * `tcpSocket` when a connection opens; `exec` is handed to `runExec` (the agent runs it in the
 * app container). Never fails: a failure is a result with the reason.
 */
import { connect } from "node:net"
import { ReadinessProbe } from "@beemesh/contract"
import { Duration, Effect } from "effect"
import { nodeHttp } from "./NodeHttp"
import type { ProbeResult } from "./ProbeThresholds"

const HOST = "127.0.0.1"

const reasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  return code === "ECONNREFUSED"
    ? "connection refused"
    : error instanceof Error
      ? error.message
      : String(error)
}

const httpGet = (port: number, path: string) =>
  Effect.callback<ProbeResult>((resume, signal) => {
    const req = nodeHttp.request({ host: HOST, port, path, method: "GET", signal }, (res) => {
      const status = res.statusCode ?? 0
      res.resume()
      resume(
        Effect.succeed({
          ok: status >= 200 && status < 400,
          message: `HTTP ${status}`,
        }),
      )
    })
    req.on("error", (error) => {
      if (!signal.aborted) resume(Effect.succeed({ ok: false, message: reasonOf(error) }))
    })
    req.end()
  })

const tcpSocket = (port: number) =>
  Effect.callback<ProbeResult>((resume, signal) => {
    const socket = connect({ host: HOST, port })
    signal.addEventListener("abort", () => socket.destroy())
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed({ ok: true, message: "connected" }))
    })
    socket.once("error", (error) => resume(Effect.succeed({ ok: false, message: reasonOf(error) })))
  })

/** How an exec probe is run (by the agent, which can enter the app container). */
export type ExecRunner = (probe: ReadinessProbe.ExecProbe) => Effect.Effect<ProbeResult>

/** Exec probes: the agent bounds the command by timeoutSeconds; the slack is for the request. */
export const EXEC_PROBE = { execSlackSeconds: 2 } as const

const noExec: ExecRunner = () =>
  Effect.succeed({ ok: false, message: "exec probes are run by the agent, which is not wired in" })

/** One run of the probe, bounded by its timeoutSeconds. */
export const runProbe = (
  probe: ReadinessProbe.ReadinessProbe,
  runExec: ExecRunner = noExec,
): Effect.Effect<ProbeResult> =>
  (probe.action === "exec"
    ? runExec(probe)
    : probe.action === "httpGet"
      ? httpGet(probe.port, probe.path ?? "/")
      : tcpSocket(probe.port)
  ).pipe(
    Effect.timeoutOption(
      Duration.seconds(
        probe.timeoutSeconds + (probe.action === "exec" ? EXEC_PROBE.execSlackSeconds : 0),
      ),
    ),
    Effect.map((result) =>
      result._tag === "Some"
        ? { ...result.value, message: `${ReadinessProbe.describe(probe)}: ${result.value.message}` }
        : {
            ok: false,
            message: `${ReadinessProbe.describe(probe)}: no answer within ${probe.timeoutSeconds}s (timeoutSeconds)`,
          },
    ),
  )
