/**
 * One HTTP exchange between node:http and a fetch handler: the incoming message as a lean
 * Request (its body read straight from the socket, once), the handler's Response written back
 * (text and bytes with their length in one write, a stream chunk by chunk with back-pressure,
 * cancelled when the client goes away).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { type BodySource, LeanBody, type ReadableLike, readerOf } from "../lean/LeanBody.js"
import { LeanHeaders, outgoingHeaders } from "../lean/LeanHeaders.js"
import { LeanRequest } from "../lean/LeanRequest.js"

/** What a handler answers: a lean Response, or Node's own (from code that made one). */
interface ResponseLike {
  readonly status: number
  readonly statusText: string
  readonly headers: { readonly forEach: (callback: (value: string, name: string) => void) => void }
  readonly body: ReadableLike | null
}

// A host name or IPv4 address, or a bracketed IPv6 address, then an optional port.
const VALID_HOST = /^(?:[a-z0-9._-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i

/** The request as the handler sees it; throws (answered 400) when it cannot be one. */
export const requestFrom = (incoming: IncomingMessage): LeanRequest => {
  const target = incoming.url ?? ""
  let url: string
  if (target.startsWith("/")) {
    const host = incoming.headers.host ?? "localhost"
    if (!VALID_HOST.test(host)) throw new TypeError(`invalid Host header "${host}"`)
    url = `http://${host}${target}`
  } else if (/^https?:\/\//i.test(target)) url = target
  else throw new TypeError(`unsupported request target "${target}"`)
  const headers = new LeanHeaders()
  const raw = incoming.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
  const method = incoming.method ?? "GET"
  return new LeanRequest(url, {
    method,
    headers,
    ...(method === "GET" || method === "HEAD" ? {} : { body: incoming }),
  })
}

const isResponseLike = (value: unknown): value is ResponseLike =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Partial<ResponseLike>).status === "number" &&
  typeof (value as Partial<ResponseLike>).headers?.forEach === "function"

const drained = (out: ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      out.off("drain", done)
      out.off("close", done)
      resolve()
    }
    out.once("drain", done)
    out.once("close", done)
  })

const writeChunks = async (
  source: ReadableLike | AsyncIterable<Uint8Array>,
  out: ServerResponse,
): Promise<void> => {
  const reader = readerOf(source)
  let finished = false
  // A client gone away cancels the stream (a followed log stops reading its container).
  const onClose = () => {
    if (!finished) reader.cancel().catch(() => {})
  }
  out.once("close", onClose)
  try {
    for (;;) {
      const read = await reader.read()
      if (read.done || out.destroyed) break
      if (!out.write(read.value)) await drained(out)
    }
    finished = true
    out.end()
  } catch (error) {
    finished = true
    out.destroy(error instanceof Error ? error : new Error(String(error)))
  } finally {
    out.off("close", onClose)
  }
}

/** How much of a body nobody read is read and dropped before the answer (see `drainUnread`). */
const DRAIN_MAX_BYTES = 32 * 1024 * 1024
/** How long a drained body may pause between two chunks before it is left unread. */
const DRAIN_IDLE_MS = 1_000
/** How long a drain may take in all. */
const DRAIN_MAX_MS = 10_000

/**
 * Reads and drops a request body the handler left unread (it refused the request on its
 * headers: a declared length over the limit, no credentials), so that the client, still
 * sending it, reads the answer. A socket closed with data unread sends a reset, and a client
 * still writing then fails on EPIPE or ECONNRESET before it reads the status (fetch: "fetch
 * failed"), or not, depending on timing. Bounded: a body larger than DRAIN_MAX_BYTES, stalled
 * for DRAIN_IDLE_MS or slower than DRAIN_MAX_MS is left, and the connection closes after the
 * answer. A body the handler began to read is left as it is.
 */
const drainUnread = (incoming: IncomingMessage): Promise<void> => {
  if (
    incoming.complete ||
    incoming.destroyed ||
    incoming.readableFlowing !== null ||
    incoming.listenerCount("readable") > 0
  )
    return Promise.resolve()
  return new Promise((resolve) => {
    let received = 0
    let idle: ReturnType<typeof setTimeout>
    const stop = () => {
      clearTimeout(idle)
      clearTimeout(overall)
      incoming.off("data", onData)
      incoming.off("end", stop)
      incoming.off("close", stop)
      if (!incoming.complete) incoming.pause()
      resolve()
    }
    const onData = (chunk: Uint8Array) => {
      received += chunk.byteLength
      clearTimeout(idle)
      if (received > DRAIN_MAX_BYTES) stop()
      else idle = setTimeout(stop, DRAIN_IDLE_MS)
    }
    idle = setTimeout(stop, DRAIN_IDLE_MS)
    const overall = setTimeout(stop, DRAIN_MAX_MS)
    incoming.on("data", onData)
    incoming.once("end", stop)
    incoming.once("close", stop)
  })
}

/** Writes the handler's answer; anything that is not a Response is answered 500. */
export const writeResponse = async (
  response: unknown,
  incoming: IncomingMessage,
  out: ServerResponse,
): Promise<void> => {
  if (!isResponseLike(response)) return answerEmpty(out, 500)
  await drainUnread(incoming)
  const headers = outgoingHeaders(response.headers)
  const source: BodySource =
    response instanceof LeanBody ? response.takeSource() : (response.body ?? null)
  // A request body still arriving unread (past the drain's bounds) would keep the connection
  // busy after the answer (Node reads and drops it, however long): close it instead.
  if (!incoming.complete) headers.connection = "close"
  const reason = response.statusText === "" ? undefined : response.statusText
  if (source === null) {
    out.writeHead(response.status, reason, headers).end()
    return
  }
  if (typeof source === "string" || source instanceof Uint8Array) {
    if (headers["content-length"] === undefined)
      headers["content-length"] = String(
        typeof source === "string" ? Buffer.byteLength(source) : source.byteLength,
      )
    out.writeHead(response.status, reason, headers).end(source)
    return
  }
  out.writeHead(response.status, reason, headers)
  // A stream may take long to give its first chunk (a followed log): the status goes out now.
  out.flushHeaders()
  await writeChunks(source, out)
}

/** A bodiless answer (400 for a request that cannot be one, 500 for a failed handler). */
export const answerEmpty = (out: ServerResponse, status: number): void => {
  if (out.headersSent) {
    out.destroy()
    return
  }
  out.writeHead(status, { "content-length": "0" }).end()
}
