/**
 * A standby sidecar's wait for its identity (@beemesh/contract Standby). The agent starts it in a
 * pod made ahead of need with only its standby token and `BEEMESH_AGENT_URL`; it asks the agent
 * for its claim until a replica claims the pod, then runs with the environment it would have had
 * if started with its identity, or exits 0 when the pod is removed unclaimed.
 *
 * A claim the sidecar cannot use (not JSON, not the contract's form, a variable other than
 * `BEEMESH_*`, too large) is a failure, not retried: the agent is trusted, so such a body is a bug
 * that asking again would only repeat.
 */
import { SidecarEnvironment, Standby } from "@beemesh/contract"
import { Data, Effect, Redacted, Result } from "effect"
import { describeFailure, httpText, parseJson } from "./HttpText"

type Env = Readonly<Record<string, string | undefined>>

/** The agent answered 401 or 403: it did not start this sidecar, or not for this pod. */
export class StandbyTokenRefused extends Data.TaggedError("StandbyTokenRefused")<{
  readonly url: string
  readonly status: number
}> {
  override get message(): string {
    return `the agent refused the standby token (${Standby.TOKEN_VARIABLE}) with ${this.status} at GET ${this.url}: this sidecar was not started by that agent, or not for this pod`
  }
}

/** The agent answered 200 with a body that is not a claim. */
export class StandbyClaimInvalid extends Data.TaggedError("StandbyClaimInvalid")<{
  readonly url: string
  readonly reason: string
}> {
  override get message(): string {
    return `the agent's answer to GET ${this.url} is not a usable claim: ${this.reason}`
  }
}

export type StandbyError = StandbyTokenRefused | StandbyClaimInvalid

export interface StandbyTiming {
  /** One request's limit, past the agent's hold: a timeout is a lost answer (default HOLD_MS + 10 s). */
  readonly requestTimeoutMs?: number
  /** The wait after a failed request, doubled after each one up to `retryMaxMs` (default 200 ms). */
  readonly retryMinMs?: number
  /** Default 5 s. */
  readonly retryMaxMs?: number
}

export interface StandbyOptions extends StandbyTiming {
  readonly agentUrl: string
  readonly token: Redacted.Redacted<string>
}

type Retired = { readonly _tag: "Retired" }
const RETIRED: Retired = { _tag: "Retired" }

/** How the sidecar starts: with this environment, or not at all (its pod was removed unclaimed). */
export type Start = { readonly _tag: "Run"; readonly env: Env } | Retired

type Answer = { readonly _tag: "Claimed"; readonly claim: Standby.Claim } | Retired
const claimed = (claim: Standby.Claim): Answer => ({ _tag: "Claimed", claim })

/** Asks the agent for this sidecar's claim until it answers with one (200) or retires it (410). */
export const awaitClaim = Effect.fn("StandbyClaim.awaitClaim")(function* (options: StandbyOptions) {
  const url = `${options.agentUrl}${Standby.PATH}`
  const timeoutMs = options.requestTimeoutMs ?? Standby.HOLD_MS + 10_000
  const retryMinMs = options.retryMinMs ?? 200
  const retryMaxMs = options.retryMaxMs ?? 5000
  let retryMs = retryMinMs
  yield* Effect.logInfo(`sidecar standing by for a claim at ${url}`)
  for (;;) {
    // Interrupted (SIGTERM), the signal aborts the request: shutdown never waits out the hold.
    const answer = yield* Effect.result(
      Effect.tryPromise({
        try: (signal) =>
          httpText(url, {
            method: "GET",
            headers: { authorization: `Bearer ${Redacted.value(options.token)}` },
            timeoutMs,
            signal,
            maxBytes: Standby.MAX_CLAIM_BYTES,
          }),
        catch: (cause) => cause,
      }),
    )
    let problem: string
    if (Result.isFailure(answer)) {
      const cause = answer.failure
      if (cause instanceof Error && cause.name === "TimeoutError") continue
      if (cause instanceof Error && cause.name === "AnswerTooLarge")
        return yield* new StandbyClaimInvalid({ url, reason: cause.message })
      problem = `agent unreachable: ${describeFailure(cause, timeoutMs)}`
    } else {
      const { status, text } = answer.success
      if (status === 200) {
        const claim = Standby.decodeClaim(parseJson(text))
        if (Result.isFailure(claim))
          return yield* new StandbyClaimInvalid({ url, reason: claim.failure })
        yield* Effect.logInfo("sidecar claimed")
        return claimed(claim.success)
      }
      if (status === 204) {
        retryMs = retryMinMs
        continue
      }
      if (status === 410) return RETIRED
      if (status === 401 || status === 403) return yield* new StandbyTokenRefused({ url, status })
      problem = `agent answered ${status}: ${text.slice(0, 200)}`
    }
    yield* Effect.logWarning(`standby: GET ${url}: ${problem}; asking again in ${retryMs} ms`)
    yield* Effect.sleep(retryMs)
    retryMs = Math.min(retryMs * 2, retryMaxMs)
  }
})

/** The environment a claimed sidecar runs with: no standby token, the claim's variables first. */
export const claimedEnvironment = (env: Env, claim: Standby.Claim): Env => {
  const { [Standby.TOKEN_VARIABLE]: _token, ...rest } = env
  return { ...rest, ...claim.env }
}

/** A header value node accepts; the agent's tokens are printable ASCII. */
const PRINTABLE = /^[\x21-\x7e]+$/

/** The agent's URL and the token, checked as SidecarEnvironment checks the URL. */
const standbyOptions = (
  env: Env,
  token: string,
): Result.Result<StandbyOptions, SidecarEnvironment.SidecarEnvironmentInvalid> => {
  const problems: Array<SidecarEnvironment.Problem> = []
  const rule = SidecarEnvironment.variables.BEEMESH_AGENT_URL
  const rawUrl = env.BEEMESH_AGENT_URL ?? SidecarEnvironment.DEFAULT_AGENT_URL
  const agentUrl = rule.decode(rawUrl)
  if (Result.isFailure(agentUrl))
    problems.push({
      variable: "BEEMESH_AGENT_URL",
      value: rawUrl,
      expected: rule.expected,
      reason: agentUrl.failure.message.split("\n")[0] ?? agentUrl.failure.message,
    })
  if (!PRINTABLE.test(token))
    problems.push({
      variable: Standby.TOKEN_VARIABLE,
      value: "<redacted>",
      expected: "the standby token issued by the agent (printable characters without spaces)",
      reason: token === "" ? "empty" : "not printable ASCII",
    })
  if (problems.length > 0 || Result.isFailure(agentUrl))
    return Result.fail(new SidecarEnvironment.SidecarEnvironmentInvalid({ problems }))
  return Result.succeed({ agentUrl: agentUrl.success as string, token: Redacted.make(token) })
}

/**
 * `claim` with `work` beside it: the work starts with the first request and is interrupted (its
 * scope closed) once the claim is answered. The claim does not wait for the interruption: what
 * the work has in hand is closed while the sidecar starts.
 */
const beside = <A, E>(claim: Effect.Effect<A, E>, work: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const working = yield* Effect.forkChild(work)
    return yield* claim.pipe(Effect.ensuring(Effect.sync(() => working.interruptUnsafe())))
  })

/**
 * The environment the sidecar starts with. Without a standby token: `env` as it is. With one, the
 * token is deleted from `env` (the process's environment) before anything else runs, so nothing
 * later logs it or passes it on; then the sidecar waits for its claim, running `whileStandingBy`
 * meanwhile (main.ts: the warm-up, StandbyWarmUp.ts), which must not fail.
 */
export const startingEnvironment = (
  env: Record<string, string | undefined>,
  timing: StandbyTiming = {},
  whileStandingBy: Effect.Effect<void> = Effect.void,
): Effect.Effect<Start, StandbyError | SidecarEnvironment.SidecarEnvironmentInvalid> =>
  Effect.suspend(() => {
    const token = env[Standby.TOKEN_VARIABLE]
    if (token === undefined) return Effect.succeed<Start>({ _tag: "Run", env })
    delete env[Standby.TOKEN_VARIABLE]
    return Effect.fromResult(standbyOptions(env, token)).pipe(
      Effect.flatMap((options) => beside(awaitClaim({ ...timing, ...options }), whileStandingBy)),
      Effect.flatMap((answer) => {
        if (answer._tag === "Claimed")
          return Effect.succeed<Start>({ _tag: "Run", env: claimedEnvironment(env, answer.claim) })
        return Effect.as(
          Effect.logInfo("sidecar retired: the agent removes this standby pod unclaimed"),
          RETIRED,
        )
      }),
    )
  })
