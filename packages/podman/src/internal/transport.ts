/**
 * One request to the libpod API: sent on the socket, its status checked, Podman's failure typed,
 * its body decoded with Schema. Shared by the client's parts (client.ts, containers.ts, events.ts).
 */
import { Effect, Result, Schema } from "effect"
import { type PodmanError, PodmanUnavailable, RuntimeFailure } from "../Errors.js"
import * as R from "../Responses.js"
import { classifyFailure, type Subject, safeJson } from "./failures.js"
import { type RawRequest, type RawResponse, request } from "./http.js"

/** Whether a socket's failure (as `PodmanUnavailable` lists it) is a request left unanswered. */
export const unansweredReason = (reason: string): boolean => reason.startsWith("ETIMEDOUT")

export const makeTransport = (socketPath: string, embedded: boolean, timeoutMs: number) => {
  const unavailable = (reason: string) =>
    new PodmanUnavailable({
      socketsTried: [
        { path: socketPath, source: embedded ? "embedded service" : "connected", reason },
      ],
      hint: unansweredReason(reason)
        ? "the Podman service took the request but did not answer in time (stuck, or busy: on a loaded host its requests queue for Podman's locks behind its own clean-up work)"
        : "the Podman service stopped answering",
    })

  const send = (req: RawRequest): Effect.Effect<RawResponse, PodmanUnavailable> =>
    request(socketPath, req).pipe(Effect.mapError((e) => unavailable(`${e.code}: ${e.detail}`)))

  const call = (
    operation: string,
    subject: Subject,
    req: Omit<RawRequest, "idleTimeoutMs">,
    ok: ReadonlyArray<number>,
  ): Effect.Effect<RawResponse, PodmanError> =>
    send({ ...req, idleTimeoutMs: timeoutMs }).pipe(
      Effect.flatMap((res) =>
        ok.includes(res.status)
          ? Effect.succeed(res)
          : Effect.fail(classifyFailure(operation, res.status, res.body, subject)),
      ),
    )

  const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
    schema: S,
    operation: string,
    res: RawResponse,
  ): Effect.Effect<S["Type"], RuntimeFailure> => {
    const decoded = Schema.decodeUnknownResult(schema)(safeJson(res.body.toString("utf8")))
    return Result.isSuccess(decoded)
      ? Effect.succeed(decoded.success)
      : Effect.fail(
          new RuntimeFailure({
            operation,
            status: res.status,
            podmanMessage: `unexpected response (${decoded.failure.message}): ${res.body.toString("utf8").slice(0, 300)}`,
          }),
        )
  }

  const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: "application/json" })

  const actionErrors = (operation: string, res: RawResponse) =>
    decode(R.PodActionReport, operation, res).pipe(
      Effect.flatMap((report) => {
        const errs = [...(report.Errs ?? []), ...(report.Err ? [report.Err] : [])]
        return errs.length === 0
          ? Effect.void
          : Effect.fail(
              new RuntimeFailure({
                operation,
                status: res.status,
                podmanMessage: errs
                  .map((e) => (typeof e === "string" ? e : JSON.stringify(e)))
                  .join("; "),
              }),
            )
      }),
    )

  const pod = (name: string): Subject => ({ kind: "pod", name })
  const ctr = (name: string): Subject => ({ kind: "container", name })

  return {
    socketPath,
    embedded,
    timeoutMs,
    unavailable,
    call,
    decode,
    json,
    actionErrors,
    pod,
    ctr,
  }
}

export type Transport = ReturnType<typeof makeTransport>
