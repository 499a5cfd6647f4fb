/**
 * The sidecar's own HTTP endpoint (127.0.0.1 by default, inside the pod): liveness, readiness
 * (usable as a Podman healthcheck through the `healthcheck` command) and Prometheus metrics.
 */

import type { IncomingMessage, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { PrometheusText } from "@beemesh/service"
import { Data, Effect } from "effect"
import { httpText } from "./HttpText"
import { nodeHttp } from "./NodeHttp"

export interface Readiness {
  readonly ready: boolean
  /** Why the sidecar is not ready (empty when ready). */
  readonly reasons: ReadonlyArray<string>
}

export interface HealthProbe {
  readonly readiness: () => Readiness
  readonly metrics: () => string
}

export interface HealthAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const json = (status: number, value: unknown): HealthAnswer => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(value),
})

/**
 * The answer to `GET <path>`. Three fixed routes over plain `node:http`, not hono: hono's Node
 * adapter touches the `Headers`/`Request`/`Response` globals when it loads, which loads undici,
 * about 8 MiB of private memory in every pod's sidecar for three routes.
 */
export const healthAnswer = (probe: HealthProbe, method: string, path: string): HealthAnswer => {
  if (method !== "GET" && method !== "HEAD") return json(405, { error: "only GET is served" })
  switch (path) {
    case "/healthz":
      return json(200, { status: "ok" })
    case "/readyz": {
      const r = probe.readiness()
      return json(r.ready ? 200 : 503, { ready: r.ready, reasons: r.reasons })
    }
    case "/metrics":
      return { status: 200, contentType: PrometheusText.CONTENT_TYPE, body: probe.metrics() }
    default:
      return json(404, { error: `no route ${path}: try /healthz, /readyz or /metrics` })
  }
}

const handler = (probe: HealthProbe) => (req: IncomingMessage, res: ServerResponse) => {
  const path = (req.url ?? "/").split("?")[0]!
  const answer = healthAnswer(probe, req.method ?? "GET", path)
  res.writeHead(answer.status, {
    "content-type": answer.contentType,
    "content-length": Buffer.byteLength(answer.body),
  })
  res.end(req.method === "HEAD" ? undefined : answer.body)
  // Requests carry no body worth reading; drain whatever came so the socket can be reused.
  req.resume()
}

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

/** Serves the health routes on host:port until the scope closes. Resolves to the bound port. */
export const serveHealth = Effect.fn("HealthServer.serve")(function* (
  probe: HealthProbe,
  host: string,
  port: number,
) {
  const server = yield* Effect.acquireRelease(
    Effect.callback<ReturnType<typeof nodeHttp.createServer>, HealthListenFailed>((resume) => {
      const server = nodeHttp.createServer(handler(probe))
      server.once("error", (cause) =>
        resume(Effect.fail(new HealthListenFailed({ host, port, cause }))),
      )
      server.listen(port, host, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
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
    const res = await httpText(`http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/readyz`, {
      method: "GET",
      timeoutMs,
    })
    process.stdout.write(`${res.text}\n`)
    return res.status === 200 ? 0 : 1
  } catch (cause) {
    process.stderr.write(`healthcheck: ${cause instanceof Error ? cause.message : String(cause)}\n`)
    return 1
  }
}
