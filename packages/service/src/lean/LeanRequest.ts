/**
 * The fetch standard's `Request`, as much as hono and the agent's routes use: `url`, `method`,
 * `headers` and the body (LeanBody). `new Request(request, { body })` re-wraps a request with a
 * new body (hono's bodyLimit does, after reading it).
 */
import { type BodySource, bodySourceOf, LeanBody, type LeanBodyInit } from "./LeanBody.js"
import { LeanHeaders, type LeanHeadersInit } from "./LeanHeaders.js"

export interface LeanRequestInit {
  readonly method?: string
  readonly headers?: LeanHeadersInit
  readonly body?: LeanBodyInit
  /** Accepted for code written for Node's Request (a streamed body needs it there). */
  readonly duplex?: "half"
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// The standard upper-cases these and keeps any other method as written (so `patch` stays).
const NORMALIZED = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"])
const FORBIDDEN = new Set(["CONNECT", "TRACE", "TRACK"])

const normalizeMethod = (method: string): string => {
  if (!TOKEN.test(method)) throw new TypeError(`"${method}" is not a valid HTTP method`)
  const upper = method.toUpperCase()
  if (FORBIDDEN.has(upper)) throw new TypeError(`the method ${method} is forbidden`)
  return NORMALIZED.has(upper) ? upper : method
}

export class LeanRequest extends LeanBody {
  readonly url: string
  readonly method: string
  readonly headers: LeanHeaders

  constructor(input: string | URL | LeanRequest, init: LeanRequestInit = {}) {
    const from = input instanceof LeanRequest ? input : undefined
    const method =
      init.method === undefined ? (from?.method ?? "GET") : normalizeMethod(init.method)
    const given = init.body !== undefined && init.body !== null
    if (given && (method === "GET" || method === "HEAD"))
      throw new TypeError("Request with GET/HEAD method cannot have body.")
    let source: BodySource = null
    let contentType: string | undefined
    if (init.body !== undefined) ({ source, contentType } = bodySourceOf(init.body))
    else if (from !== undefined) source = from.takeSource()
    super(source)
    this.method = method
    this.url = from?.url ?? new URL(input instanceof URL ? input.href : String(input)).href
    this.headers = new LeanHeaders(init.headers ?? from?.headers)
    if (contentType !== undefined && !this.headers.has("content-type"))
      this.headers.set("content-type", contentType)
  }

  get [Symbol.toStringTag](): string {
    return "Request"
  }
}
