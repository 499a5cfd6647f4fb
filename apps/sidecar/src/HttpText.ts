/**
 * One HTTP request with `node:http` (or `node:https`), its answer read as text.
 *
 * Why not `fetch`: its first call loads undici and its WebAssembly HTTP parser, about 29 MiB of
 * resident memory (measured on Node 24: an idle process grew from 48 to 77 MiB RSS after three
 * requests; `node:http` grew it by 2 MiB). A sidecar runs in every pod and talks to its agent a
 * few times a minute: that memory would be paid once per pod for nothing.
 */
import type { Agent } from "node:http"
import { request as httpsRequest } from "node:https"
import { nodeHttp } from "./NodeHttp"

export interface HttpAnswer {
  readonly status: number
  readonly text: string
}

export interface HttpTextInit {
  readonly method: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string
  /** The whole exchange, connect to last byte. */
  readonly timeoutMs: number
  readonly signal?: AbortSignal
  /** Larger answers are an error (default 4 MiB). */
  readonly maxBytes?: number
  /**
   * A keep-alive pool for a peer called again and again (the agent: `keepAliveAgent`). Absent:
   * one request, then the socket goes.
   */
  readonly agent?: Agent
}

/**
 * One kept connection for a peer this process calls every few seconds (the sidecar's agent):
 * reused while the server keeps it (its `Keep-Alive: timeout` hint, less a second), so a renewal
 * costs no connect and close. Idle pooled sockets do not keep the process alive.
 */
export const keepAliveAgent = (maxSockets = 4): Agent =>
  // `timeout`: an idle pooled socket closes after a minute even when the server gives no hint.
  new nodeHttp.Agent({ keepAlive: true, maxSockets, maxFreeSockets: 1, timeout: 60_000 })

/**
 * Rejects with an Error named `TimeoutError` after `timeoutMs`, like `AbortSignal.timeout`, and
 * with one named `AnswerTooLarge` past `maxBytes`.
 */
export const httpText = (url: string, init: HttpTextInit): Promise<HttpAnswer> =>
  new Promise((resolve, reject) => {
    const target = new URL(url)
    const send = target.protocol === "https:" ? httpsRequest : nodeHttp.request
    const maxBytes = init.maxBytes ?? 4 * 1024 * 1024
    const body = init.body === undefined ? undefined : Buffer.from(init.body)
    const req = send(target, {
      method: init.method,
      headers: {
        ...init.headers,
        ...(body === undefined ? {} : { "content-length": String(body.length) }),
      },
      // Without a pool, one request, then the socket goes.
      agent: init.agent ?? false,
    })
    const fail = (error: Error) => {
      clearTimeout(timer)
      init.signal?.removeEventListener("abort", onAbort)
      req.destroy()
      reject(error)
    }
    const timer = setTimeout(() => {
      const error = new Error(`no answer within ${init.timeoutMs} ms`)
      error.name = "TimeoutError"
      fail(error)
    }, init.timeoutMs)
    const onAbort = () => fail(new Error("request aborted"))
    if (init.signal?.aborted) return onAbort()
    init.signal?.addEventListener("abort", onAbort, { once: true })
    req.on("error", fail)
    req.on("response", (res) => {
      const chunks: Array<Buffer> = []
      let size = 0
      res.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBytes) {
          const error = new Error(`answer larger than ${maxBytes} bytes`)
          error.name = "AnswerTooLarge"
          return fail(error)
        }
        chunks.push(chunk)
      })
      res.on("error", fail)
      res.on("end", () => {
        clearTimeout(timer)
        init.signal?.removeEventListener("abort", onAbort)
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") })
      })
    })
    req.end(body)
  })

/** A JSON answer's value, or undefined when the text is not JSON (a schema then refuses it). */
export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Why a request failed, for a log line or an error's message. */
export const describeFailure = (cause: unknown, timeoutMs: number): string => {
  if (cause instanceof Error) {
    if (cause.name === "TimeoutError") return `no answer within ${timeoutMs} ms`
    const inner = (cause as { cause?: unknown }).cause
    const code =
      inner instanceof Error ? ((inner as { code?: string }).code ?? inner.message) : undefined
    return code === undefined ? cause.message : `${cause.message} (${code})`
  }
  return String(cause)
}
