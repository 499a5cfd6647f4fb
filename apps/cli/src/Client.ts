/**
 * The agent's HTTP API as the CLI uses it: JSON in and out, the operator token as a bearer, and
 * failures turned into errors that name the URL, the token's origin and the fix.
 */
import { Effect } from "effect"
import type { Target } from "./Contexts"
import { AgentFailed, AgentUnauthorized, AgentUnreachable } from "./Errors"

export type ClientError = AgentUnreachable | AgentUnauthorized | AgentFailed

export interface AgentClient {
  readonly target: Target
  readonly json: <A>(method: string, path: string, body?: string) => Effect.Effect<A, ClientError>
  /** The raw response of a streaming endpoint (logs -f), once its status is OK. */
  readonly stream: (path: string) => Effect.Effect<Response, ClientError>
}

const causeOf = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

export const makeClient = (target: Target, timeoutMs = 120_000): AgentClient => {
  const send = (method: string, path: string, body: string | undefined, timeout: boolean) =>
    Effect.tryPromise({
      try: (signal) =>
        fetch(new URL(path, target.server), {
          method,
          headers: target.token === undefined ? {} : { authorization: `Bearer ${target.token}` },
          ...(body === undefined ? {} : { body }),
          signal: timeout ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : signal,
        }),
      catch: (error) =>
        new AgentUnreachable({
          server: target.server,
          origin: target.serverOrigin,
          reason: causeOf(error),
        }),
    }).pipe(
      Effect.flatMap((response): Effect.Effect<Response, ClientError> => {
        if (response.ok) return Effect.succeed(response)
        return Effect.promise(() => response.text()).pipe(
          Effect.flatMap((text) => {
            const parsed = safeJson(text) as { error?: string; message?: string } | undefined
            const reason = parsed?.message ?? (text.trim() || response.statusText)
            return response.status === 401
              ? Effect.fail<ClientError>(
                  new AgentUnauthorized({
                    server: target.server,
                    tokenOrigin: target.tokenOrigin,
                    reason,
                  }),
                )
              : Effect.fail<ClientError>(
                  new AgentFailed({
                    status: response.status,
                    error: parsed?.error ?? "HttpError",
                    reason,
                  }),
                )
          }),
        )
      }),
    )

  return {
    target,
    json: <A>(method: string, path: string, body?: string) =>
      send(method, path, body, true).pipe(
        Effect.flatMap((response) => Effect.promise(() => response.text())),
        Effect.map((text) => (text === "" ? undefined : JSON.parse(text)) as A),
      ),
    stream: (path) => send("GET", path, undefined, false),
  }
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
