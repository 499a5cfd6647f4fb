/** The HTTP API on its configured address, as a scoped resource (see @beemesh/service). */
import { serveHttp } from "@beemesh/service"
import { Data, Effect } from "effect"
import type { Hono } from "hono"

export class ApiListenFailed extends Data.TaggedError("ApiListenFailed")<{
  readonly host: string
  readonly port: number
  readonly reason: string
}> {
  override get message() {
    return `the HTTP API cannot listen on ${this.host}:${this.port}: ${this.reason} (choose another with --api HOST:PORT)`
  }
}

/**
 * How long an idle connection to the API stays open. Every sidecar renews its lease every
 * `leaseSeconds / 3` (10 s by default) and keeps one connection to the agent: kept open between
 * renewals, a renewal costs no TCP handshake and close through its pod's slirp4netns, nor an
 * accept here (Node's default, 5 s, closed it between any two). Longer leases reconnect.
 */
export const API_KEEP_ALIVE_MS = 65_000

/** Serves the app on host:port until the scope closes; resolves to the bound port. */
export const serveApi = Effect.fn("Server.serve")(function* (
  app: Hono,
  host: string,
  port: number,
) {
  return yield* serveHttp(app, { host, port, keepAliveTimeoutMs: API_KEEP_ALIVE_MS }).pipe(
    Effect.mapError((error) => new ApiListenFailed({ host, port, reason: error.reason })),
  )
})
