/**
 * The sidecar's own HTTP endpoint (127.0.0.1 by default, inside the pod): liveness, readiness
 * (usable as a Podman healthcheck through the `healthcheck` command) and Prometheus metrics.
 */
import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
import { Data, Effect } from "effect"
import { Hono } from "hono"
import { CONTENT_TYPE } from "./PrometheusText"

export interface Readiness {
  readonly ready: boolean
  /** Why the sidecar is not ready (empty when ready). */
  readonly reasons: ReadonlyArray<string>
}

export interface HealthProbe {
  readonly readiness: () => Readiness
  readonly metrics: () => string
}

export const makeHealthApp = (probe: HealthProbe) =>
  new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", (c) => {
      const r = probe.readiness()
      return c.json({ ready: r.ready, reasons: r.reasons }, r.ready ? 200 : 503)
    })
    .get("/metrics", (c) => c.body(probe.metrics(), 200, { "content-type": CONTENT_TYPE }))

export class HealthListenFailed extends Data.TaggedError("HealthListenFailed")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `the health endpoint could not listen on ${this.host}:${this.port}: ${reason} (BEEMESH_HEALTH_HOST/BEEMESH_HEALTH_PORT)`
  }
}

/** Serves the health app on host:port until the scope closes. Resolves to the bound port. */
export const serveHealth = Effect.fn("HealthServer.serve")(function* (
  probe: HealthProbe,
  host: string,
  port: number,
) {
  const app = makeHealthApp(probe)
  const server = yield* Effect.acquireRelease(
    Effect.callback<ReturnType<typeof serve>, HealthListenFailed>((resume) => {
      const s = serve({ fetch: app.fetch, hostname: host, port })
      const onError = (cause: unknown) =>
        resume(Effect.fail(new HealthListenFailed({ host, port, cause })))
      s.once("error", onError)
      s.once("listening", () => {
        s.off("error", onError)
        resume(Effect.succeed(s))
      })
    }),
    (s) =>
      Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        ;(s as { closeAllConnections?: () => void }).closeAllConnections?.()
      }),
  )
  return (server.address() as AddressInfo).port
})

/**
 * The `healthcheck` command (for Podman's HEALTHCHECK): asks the running sidecar's /readyz and
 * returns the process exit code, 0 when ready.
 */
export const runHealthcheck = async (
  host: string,
  port: number,
  timeoutMs = 2000,
): Promise<number> => {
  try {
    const res = await fetch(`http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/readyz`, {
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    process.stdout.write(`${text}\n`)
    return res.status === 200 ? 0 : 1
  } catch (cause) {
    process.stderr.write(`healthcheck: ${cause instanceof Error ? cause.message : String(cause)}\n`)
    return 1
  }
}
