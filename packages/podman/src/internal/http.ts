/** HTTP/1.1 over a unix socket with node:http; interruption aborts the request. */
import type * as Http from "node:http"
import type { IncomingMessage } from "node:http"
import type { Readable } from "node:stream"
import { Data, Effect, type Scope } from "effect"

/** The socket could not be reached or the connection broke (ENOENT, ECONNREFUSED, reset, timeout). */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly socketPath: string
  readonly code: string
  readonly detail: string
}> {}

export interface RawRequest {
  readonly method: "GET" | "POST" | "DELETE" | "PUT"
  readonly path: string
  readonly body?: string | Buffer | Readable
  readonly contentType?: string
  /** Socket inactivity limit; streaming requests (events) pass 0 for none. */
  readonly idleTimeoutMs: number
}

export interface RawResponse {
  readonly status: number
  readonly body: Buffer
}

// Not an ES import of node:http: its namespace's `WebSocket`, `MessageEvent` and `CloseEvent`
// getters load Node's bundled undici, http2 and web streams (megabytes every agent would carry).
const nodeHttp: typeof Http = process.getBuiltinModule("node:http")

const open = (
  socketPath: string,
  req: RawRequest,
  signal: AbortSignal,
  onResponse: (res: IncomingMessage) => void,
  onError: (e: TransportError) => void,
) => {
  const headers: Record<string, string> = { host: "d" }
  if (req.contentType !== undefined) headers["content-type"] = req.contentType
  const r = nodeHttp.request(
    { socketPath, method: req.method, path: req.path, headers, signal },
    onResponse,
  )
  if (req.idleTimeoutMs > 0) {
    r.setTimeout(req.idleTimeoutMs, () =>
      r.destroy(
        Object.assign(new Error(`no data for ${req.idleTimeoutMs} ms`), { code: "ETIMEDOUT" }),
      ),
    )
  }
  r.on("error", (e: NodeJS.ErrnoException) => {
    if (signal.aborted) return
    onError(new TransportError({ socketPath, code: e.code ?? "EUNKNOWN", detail: e.message }))
  })
  const body = req.body
  if (body === undefined) r.end()
  else if (typeof body === "string" || Buffer.isBuffer(body)) r.end(body)
  else {
    body.on("error", (e) => r.destroy(e))
    body.pipe(r)
  }
  return r
}

/** One request, the whole response body collected. */
export const request = (
  socketPath: string,
  req: RawRequest,
): Effect.Effect<RawResponse, TransportError> =>
  Effect.callback<RawResponse, TransportError>((resume, signal) => {
    open(
      socketPath,
      req,
      signal,
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) })),
        )
        res.on("error", (e: NodeJS.ErrnoException) =>
          resume(
            Effect.fail(
              new TransportError({ socketPath, code: e.code ?? "EUNKNOWN", detail: e.message }),
            ),
          ),
        )
      },
      (e) => resume(Effect.fail(e)),
    )
  })

/** A request whose response is consumed as a stream; the connection is closed with the scope. */
export const requestStreaming = (
  socketPath: string,
  req: RawRequest,
): Effect.Effect<IncomingMessage, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<IncomingMessage, TransportError>((resume, signal) => {
      open(
        socketPath,
        req,
        signal,
        (res) => resume(Effect.succeed(res)),
        (e) => resume(Effect.fail(e)),
      )
    }),
    (res) => Effect.sync(() => res.destroy()),
  )
