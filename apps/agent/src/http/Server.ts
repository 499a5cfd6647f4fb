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

/** Serves the app on host:port until the scope closes; resolves to the bound port. */
export const serveApi = Effect.fn("Server.serve")(function* (
  app: Hono,
  host: string,
  port: number,
) {
  return yield* serveHttp(app, { host, port }).pipe(
    Effect.mapError((error) => new ApiListenFailed({ host, port, reason: error.reason })),
  )
})
