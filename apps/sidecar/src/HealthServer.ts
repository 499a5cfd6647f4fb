/**
 * The sidecar's own HTTP endpoint (127.0.0.1 by default, inside the pod): liveness, readiness
 * (usable as a Podman healthcheck through the `healthcheck` command) and Prometheus metrics.
 */
import { PrometheusText, serveHttp } from "@beemesh/service"
import { Data, Effect } from "effect"
import { Hono } from "hono"

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
    .get("/metrics", (c) =>
      c.body(probe.metrics(), 200, { "content-type": PrometheusText.CONTENT_TYPE }),
    )

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
  return yield* serveHttp(makeHealthApp(probe), { host, port }).pipe(
    Effect.mapError((error) => new HealthListenFailed({ host, port, cause: error.cause })),
  )
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
