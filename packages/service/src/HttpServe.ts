/**
 * Serves a hono app (or any fetch handler) over node:http as a scoped resource: bound when
 * acquired, closed with every open connection when its scope closes. Requests and responses are
 * the lean fetch classes (LeanFetch.ts, installed as the globals hono builds its answers with),
 * so a process that serves HTTP never loads Node's bundled undici.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Data, Effect, type Scope } from "effect"
import { answerEmpty, requestFrom, writeResponse } from "./internal/NodeExchange.js"
import { nodeHttp } from "./internal/nodeHttp.js"
import { install } from "./LeanFetch.js"

export interface ServeOptions {
  /** The address to bind: an IPv4 or IPv6 literal, or a host name. */
  readonly host: string
  /** The port to bind; 0 picks a free one (see the returned port). */
  readonly port: number
  /**
   * How long an idle keep-alive connection stays open (Node's default: 5 s). Clients that call
   * every few seconds (a sidecar renewing its lease) reuse one connection when this is longer
   * than their interval; the server announces it (`Keep-Alive: timeout=…`), and Node's client
   * closes a pooled connection a second before it.
   */
  readonly keepAliveTimeoutMs?: number
}

/** What serves requests: a hono app, or anything with its `fetch`. */
export interface FetchHandler {
  readonly fetch: (request: Request, ...rest: ReadonlyArray<never>) => Response | Promise<Response>
}

/** The server could not bind its address (port taken, address not local, no permission …). */
export class ListenFailed extends Data.TaggedError("ListenFailed")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  /** The OS's reason, e.g. `listen EADDRINUSE: address already in use 127.0.0.1:8080`. */
  get reason(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause)
  }
  override get message(): string {
    return `cannot listen on ${this.host}:${this.port}: ${this.reason}`
  }
}

const exchange =
  (handler: FetchHandler) =>
  (incoming: IncomingMessage, out: ServerResponse): void => {
    let request: Request
    try {
      request = requestFrom(incoming) as unknown as Request
    } catch {
      answerEmpty(out, 400)
      return
    }
    new Promise<unknown>((resolve) => resolve(handler.fetch(request)))
      .then(
        (response) => writeResponse(response, incoming, out),
        () => answerEmpty(out, 500),
      )
      .catch(() => answerEmpty(out, 500))
  }

const listen = (handler: FetchHandler, options: ServeOptions) =>
  Effect.callback<Server, ListenFailed>((resume) => {
    install()
    const server = nodeHttp.createServer(exchange(handler))
    if (options.keepAliveTimeoutMs !== undefined)
      server.keepAliveTimeout = options.keepAliveTimeoutMs
    server.listen(options.port, options.host)
    const onError = (cause: unknown) =>
      resume(Effect.fail(new ListenFailed({ host: options.host, port: options.port, cause })))
    server.once("error", onError)
    server.once("listening", () => {
      server.off("error", onError)
      resume(Effect.succeed(server))
    })
  })

// Keep-alive connections would hold `close` open until they idle out: end them with the server.
const close = (server: Server) =>
  Effect.callback<void>((resume) => {
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

/** Serves `handler` on host:port until the scope closes; succeeds with the bound port. */
export const serveHttp: (
  handler: FetchHandler,
  options: ServeOptions,
) => Effect.Effect<number, ListenFailed, Scope.Scope> = Effect.fn("HttpServe.serve")(function* (
  handler: FetchHandler,
  options: ServeOptions,
) {
  const server = yield* Effect.acquireRelease(listen(handler, options), close)
  return (server.address() as AddressInfo).port
})
