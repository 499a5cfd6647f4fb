/**
 * The sidecar's side of the agent's pod API (@beemesh/contract Registration, Resolution and
 * ProbeReport): register or renew, unregister, resolve, run an exec probe, report a probe
 * failure. Every request carries `Authorization: Bearer <pod token>` and has a timeout; an answer
 * that does not match the contract is a rejection.
 */
import { ProbeReport, Registration, Resolution } from "@beemesh/contract"
import { Context, Data, Effect, Layer, Redacted, Schema } from "effect"
import { describeFailure, httpText, keepAliveAgent, parseJson } from "./HttpText"
import { SidecarConfig } from "./SidecarConfig"

/** The agent did not answer: connection refused, reset or timed out. Worth retrying. */
export class AgentUnreachable extends Data.TaggedError("AgentUnreachable")<{
  readonly method: string
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `agent unreachable: ${this.method} ${this.url}: ${this.reason}`
  }
}

/** The agent answered with something other than the contract's success response. */
export class AgentRejected extends Data.TaggedError("AgentRejected")<{
  readonly method: string
  readonly url: string
  readonly status: number
  readonly body: string
}> {
  /** 5xx and 429 are the agent's transient trouble; 4xx means this request will never work. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429
  }
  override get message(): string {
    return `agent answered ${this.method} ${this.url} with ${this.status}: ${this.body.slice(0, 200)}`
  }
}

export type AgentError = AgentUnreachable | AgentRejected

export const isRetryable = (error: AgentError): boolean =>
  error._tag === "AgentUnreachable" || error.retryable

export interface AgentClientOptions {
  readonly agentUrl: string
  readonly podToken: Redacted.Redacted<string>
  readonly namespace: string
  readonly pod: string
  /** Per-request timeout (default `REQUEST_TIMEOUT_MS`). */
  readonly requestTimeoutMs?: number
}

/** How long a request waits for the agent's answer unless told otherwise. */
export const REQUEST_TIMEOUT_MS = 3000

export interface AgentClientShape {
  /**
   * Registers (or renews) the pod's services; the agent answers with the lease terms. `timeoutMs`
   * replaces the client's request timeout for this one request.
   */
  readonly register: (
    registration: Registration.Registration,
    timeoutMs?: number,
  ) => Effect.Effect<Registration.Lease, AgentError>
  /** Withdraws the pod's services. */
  readonly unregister: () => Effect.Effect<void, AgentError>
  /** Providers of a service in this pod's namespace, with their version (from a watching agent). */
  readonly resolve: (service: string) => Effect.Effect<Resolution.ResolveResponse, AgentError>
  /**
   * Waits for the providers of a service to differ from `version` (Resolution's watch): the agent
   * answers when they change, or after Resolution.HOLD_MS with the same version.
   */
  readonly watch: (
    service: string,
    version: string,
  ) => Effect.Effect<Resolution.ResolveResponse, AgentError>
  /** Has the agent run an exec probe of this pod once, waiting at most `timeoutMs`. */
  readonly execProbe: (
    request: ProbeReport.ExecRequest,
    timeoutMs: number,
  ) => Effect.Effect<ProbeReport.ExecResult, AgentError>
  /** Reports a liveness or startup probe failure: the agent restarts the replica. */
  readonly probeFailed: (failure: ProbeReport.ProbeFailure) => Effect.Effect<void, AgentError>
}

export class AgentClient extends Context.Service<AgentClient, AgentClientShape>()(
  "@beemesh/sidecar/AgentClient",
) {
  static readonly make = (options: AgentClientOptions): AgentClientShape => {
    const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    // Renewals every few seconds, resolves and reports: one kept connection to the agent.
    const agent = keepAliveAgent()
    // Watches are held by the agent: connections of their own, never in the way of a renewal.
    const watchAgent = keepAliveAgent(Number.POSITIVE_INFINITY)
    const podPath = Registration.path(options.pod)

    const request = <A>(
      method: "GET" | "PUT" | "POST" | "DELETE",
      path: string,
      expectStatus: number,
      response: Schema.Codec<A, unknown> | undefined,
      body?: unknown,
      requestTimeoutMs: number = timeoutMs,
      via: typeof agent = agent,
    ): Effect.Effect<A | undefined, AgentError> => {
      const url = `${options.agentUrl}${path}`
      return Effect.gen(function* () {
        const res = yield* Effect.tryPromise({
          try: async (signal) => {
            return await httpText(url, {
              method,
              headers: {
                authorization: `Bearer ${Redacted.value(options.podToken)}`,
                ...(body === undefined ? {} : { "content-type": "application/json" }),
              },
              ...(body === undefined ? {} : { body: JSON.stringify(body) }),
              timeoutMs: requestTimeoutMs,
              signal,
              agent: via,
            })
          },
          catch: (cause) =>
            new AgentUnreachable({ method, url, reason: describeFailure(cause, requestTimeoutMs) }),
        })
        if (res.status !== expectStatus)
          return yield* new AgentRejected({ method, url, status: res.status, body: res.text })
        if (response === undefined) return undefined
        const json = parseJson(res.text)
        const decoded = Schema.decodeUnknownExit(response)(json)
        if (decoded._tag === "Failure")
          return yield* new AgentRejected({
            method,
            url,
            status: res.status,
            body: `response does not match the contract: ${res.text}`,
          })
        return decoded.value
      })
    }

    return {
      register: Effect.fn("AgentClient.register")(function* (
        registration: Registration.Registration,
        requestTimeoutMs?: number,
      ) {
        const lease = yield* request(
          "PUT",
          podPath,
          Registration.REGISTERED,
          Registration.Lease,
          registration,
          requestTimeoutMs,
        )
        return lease as Registration.Lease
      }),
      unregister: Effect.fn("AgentClient.unregister")(function* () {
        yield* request("DELETE", podPath, Registration.UNREGISTERED, undefined)
      }),
      resolve: Effect.fn("AgentClient.resolve")(function* (service: string) {
        const path = Resolution.path(options.namespace, service)
        const res = yield* request("GET", path, Resolution.RESOLVED, Resolution.ResolveResponse)
        return res as Resolution.ResolveResponse
      }),
      watch: Effect.fn("AgentClient.watch")(function* (service: string, version: string) {
        const path = Resolution.watchPath(options.namespace, service, version)
        const res = yield* request(
          "GET",
          path,
          Resolution.RESOLVED,
          Resolution.ResolveResponse,
          undefined,
          Resolution.HOLD_MS + timeoutMs,
          watchAgent,
        )
        return res as Resolution.ResolveResponse
      }),
      execProbe: Effect.fn("AgentClient.execProbe")(function* (
        body: ProbeReport.ExecRequest,
        requestTimeoutMs: number,
      ) {
        const path = ProbeReport.execPath(options.pod)
        const res = yield* request(
          "POST",
          path,
          ProbeReport.EXECUTED,
          ProbeReport.ExecResult,
          body,
          requestTimeoutMs,
        )
        return res as ProbeReport.ExecResult
      }),
      probeFailed: Effect.fn("AgentClient.probeFailed")(function* (
        failure: ProbeReport.ProbeFailure,
      ) {
        const path = ProbeReport.failurePath(options.pod)
        yield* request("POST", path, ProbeReport.RECORDED, undefined, failure)
      }),
    }
  }

  static readonly layer: Layer.Layer<AgentClient, never, SidecarConfig> = Layer.effect(
    AgentClient,
    Effect.gen(function* () {
      const config = yield* SidecarConfig
      return AgentClient.make({
        agentUrl: config.agentUrl,
        podToken: config.podToken,
        namespace: config.namespace,
        pod: config.pod,
      })
    }),
  )
}
