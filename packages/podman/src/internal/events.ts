/** The client's event stream: libpod's `/events` followed as JSON lines. */
import type { IncomingMessage } from "node:http"
import { Cause, Effect, Queue, Result, Schema, Stream } from "effect"
import type { PodmanError, PodmanUnavailable } from "../Errors.js"
import type { EventFilter, PodmanEvent } from "../Requests.js"
import * as R from "../Responses.js"
import { classifyFailure, safeJson } from "./failures.js"
import { requestStreaming } from "./http.js"
import { API_PREFIX, labelFilters, qs } from "./query.js"
import type { Transport } from "./transport.js"

export const makeEvents = (t: Transport) => {
  const { socketPath, unavailable, pod } = t
  return (filter?: EventFilter): Stream.Stream<PodmanEvent, PodmanError> =>
    Stream.callback<PodmanEvent, PodmanError>((queue) =>
      Effect.gen(function* () {
        const filters = JSON.stringify({
          ...(filter?.type ? { type: filter.type } : {}),
          ...(filter?.labels ? { label: labelFilters(filter.labels) } : {}),
          ...(filter?.pod ? { pod: [filter.pod] } : {}),
        })
        const res = yield* requestStreaming(socketPath, {
          method: "GET",
          path: `${API_PREFIX}/events${qs({
            stream: true,
            filters,
            since: filter?.since ? (filter.since.getTime() / 1000).toFixed(3) : undefined,
          })}`,
          idleTimeoutMs: 0,
        }).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))
        if (res.statusCode !== 200) {
          const body = yield* readAll(res)
          return yield* Effect.fail(classifyFailure("events", res.statusCode ?? 0, body, pod("-")))
        }
        pumpEvents(res, queue, unavailable)
      }),
    )
}

const readAll = (res: IncomingMessage) =>
  Effect.promise(
    () =>
      new Promise<Buffer>((resolve) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve(Buffer.concat(chunks)))
        res.on("error", () => resolve(Buffer.concat(chunks)))
      }),
  )

const pumpEvents = (
  res: IncomingMessage,
  queue: Queue.Queue<PodmanEvent, PodmanError | Cause.Done>,
  unavailable: (reason: string) => PodmanUnavailable,
) => {
  let pending = ""
  res.setEncoding("utf8")
  res.on("data", (chunk: string) => {
    pending += chunk
    let nl = pending.indexOf("\n")
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim()
      pending = pending.slice(nl + 1)
      nl = pending.indexOf("\n")
      if (line === "") continue
      const decoded = Schema.decodeUnknownResult(R.EventMessage)(safeJson(line))
      if (Result.isFailure(decoded)) continue
      const e = decoded.success
      const attributes = e.Actor.Attributes ?? {}
      Queue.offerUnsafe(queue, {
        type: e.Type,
        action: e.Action,
        id: e.Actor.ID,
        name: attributes.name,
        attributes,
      })
    }
  })
  res.on("end", () => Queue.endUnsafe(queue))
  res.on("error", (err) =>
    Queue.failCauseUnsafe(queue, Cause.fail(unavailable(`events stream broke: ${err.message}`))),
  )
}
