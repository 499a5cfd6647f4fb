/**
 * Lean stand-ins for the fetch globals `Headers`, `Request` and `Response`: what hono and a
 * Beemesh app's routes use of them, without Node's bundled undici (which the first touch of any
 * of these globals loads: about 17 MiB of RSS, 7.5 of it private). `serveHttp` installs them;
 * `install()` is for code that runs a hono app without serving it (tests calling `app.request`).
 * Not there: FormData, Blob or URLSearchParams bodies, `clone`, `signal`, `Response.redirect`.
 */
import { LeanBodyStream } from "./lean/LeanBody.js"
import { LeanHeaders } from "./lean/LeanHeaders.js"
import { LeanRequest } from "./lean/LeanRequest.js"
import { LeanResponse } from "./lean/LeanResponse.js"

export type { ChunkRead, ChunkReader, LeanBodyInit as BodyInit } from "./lean/LeanBody.js"
export type { LeanHeadersInit as HeadersInit } from "./lean/LeanHeaders.js"
export type { LeanRequestInit as RequestInit } from "./lean/LeanRequest.js"
export type { LeanResponseInit as ResponseInit } from "./lean/LeanResponse.js"
export {
  LeanBodyStream as BodyStream,
  LeanHeaders as Headers,
  LeanRequest as Request,
  LeanResponse as Response,
}

/**
 * Makes the lean classes the process's `Headers`, `Request` and `Response`. By assignment: Node's
 * globals are lazy accessors whose setter replaces them without loading undici, while
 * `Object.defineProperty` or `Object.getOwnPropertyDescriptor` on them loads it.
 */
export const install = (): void => {
  const scope = globalThis as unknown as Record<string, unknown>
  scope.Headers = LeanHeaders
  scope.Request = LeanRequest
  scope.Response = LeanResponse
}
