import type { AddressInfo } from "node:net"
import { serve } from "@hono/node-server"
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
  const server = yield* Effect.acquireRelease(
    Effect.callback<ReturnType<typeof serve>, ApiListenFailed>((resume) => {
      const s = serve({ fetch: app.fetch, hostname: host, port })
      const onError = (cause: Error) =>
        resume(Effect.fail(new ApiListenFailed({ host, port, reason: cause.message })))
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
