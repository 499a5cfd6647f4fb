/**
 * The fetch standard's `Response`, as much as hono and the agent's routes use: status, headers
 * and a body of text, bytes, a stream or nothing (LeanBody); `Response.json`. The node:http
 * adapter writes text and bytes as they are, with their length.
 */
import { type BodySource, bodySourceOf, LeanBody, type LeanBodyInit } from "./LeanBody.js"
import { LeanHeaders, type LeanHeadersInit } from "./LeanHeaders.js"

export interface LeanResponseInit {
  readonly status?: number | undefined
  readonly statusText?: string | undefined
  readonly headers?: LeanHeadersInit | undefined
}

// Statuses whose responses have no body.
const NULL_BODY = new Set([101, 103, 204, 205, 304])

export class LeanResponse extends LeanBody {
  readonly status: number
  readonly statusText: string
  readonly headers: LeanHeaders
  readonly type = "default"
  readonly url = ""
  readonly redirected = false

  constructor(body?: LeanBodyInit, init: LeanResponseInit = {}) {
    const status = init.status ?? 200
    if (!Number.isInteger(status) || status < 200 || status > 599)
      throw new RangeError(
        `a response status must be a whole number from 200 to 599, not ${status}`,
      )
    let source: BodySource = null
    let contentType: string | undefined
    if (body !== undefined && body !== null) {
      if (NULL_BODY.has(status))
        throw new TypeError(`a response with status ${status} cannot have a body`)
      ;({ source, contentType } = bodySourceOf(body))
    }
    super(source)
    this.status = status
    this.statusText = init.statusText ?? ""
    this.headers = new LeanHeaders(init.headers)
    if (contentType !== undefined && !this.headers.has("content-type"))
      this.headers.set("content-type", contentType)
  }

  get ok(): boolean {
    return this.status >= 200 && this.status <= 299
  }

  static json(data: unknown, init: LeanResponseInit = {}): LeanResponse {
    const text = JSON.stringify(data)
    if (text === undefined) throw new TypeError("the data is not JSON serializable")
    const headers = new LeanHeaders(init.headers)
    if (!headers.has("content-type")) headers.set("content-type", "application/json")
    return new LeanResponse(text, { ...init, headers })
  }

  get [Symbol.toStringTag](): string {
    return "Response"
  }
}
