/** A container's output followed as it is written: libpod's `/logs?follow=true`, demultiplexed. */
import { Cause, Effect, Queue, Stream } from "effect"
import type { PodmanError } from "../Errors.js"
import type { LogChunk, LogOptions } from "../Requests.js"
import { classifyFailure } from "./failures.js"
import { requestStreaming } from "./http.js"
import { makeDemultiplexer } from "./multiplex.js"
import { API_PREFIX, qs, seg } from "./query.js"
import type { Transport } from "./transport.js"

export const logsQuery = (opts: LogOptions | undefined, follow: boolean) =>
  qs({ stdout: true, stderr: true, follow: follow ? true : undefined, tail: opts?.tail })

export const makeFollowLogs = (t: Transport) => {
  const { socketPath, unavailable, ctr } = t
  return (name: string, opts?: LogOptions): Stream.Stream<LogChunk, PodmanError> =>
    Stream.callback<LogChunk, PodmanError>((queue) =>
      Effect.gen(function* () {
        const res = yield* requestStreaming(socketPath, {
          method: "GET",
          path: `${API_PREFIX}/containers/${seg(name)}/logs${logsQuery(opts, true)}`,
          // A quiet container writes nothing for as long as it likes.
          idleTimeoutMs: 0,
        }).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))
        if (res.statusCode !== 200) {
          const body = yield* Effect.promise(
            () =>
              new Promise<Buffer>((resolve) => {
                const chunks: Array<Buffer> = []
                res.on("data", (c: Buffer) => chunks.push(c))
                res.on("end", () => resolve(Buffer.concat(chunks)))
                res.on("error", () => resolve(Buffer.concat(chunks)))
              }),
          )
          return yield* Effect.fail(
            classifyFailure("container logs", res.statusCode ?? 0, body, ctr(name)),
          )
        }
        const push = makeDemultiplexer()
        res.on("data", (data: Buffer) => {
          for (const chunk of push(data)) Queue.offerUnsafe(queue, chunk)
        })
        res.on("end", () => Queue.endUnsafe(queue))
        res.on("error", (err) =>
          Queue.failCauseUnsafe(queue, Cause.fail(unavailable(`log stream broke: ${err.message}`))),
        )
      }),
    )
}
