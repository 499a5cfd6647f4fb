/**
 * A standby sidecar: started by the agent in a pod made ahead of need (its network namespace,
 * slirp4netns, published port and egress policy ready, no app yet), before any replica is its
 * own. It loads, then waits for its identity:
 *
 *   GET {agent}/v1/standby   Authorization: Bearer <standby token>
 *     200 Claim        the pod was claimed by a replica: run as that replica's sidecar
 *     204 no body      not claimed within HOLD_MS: ask again
 *     410 no body      the pod is being removed unclaimed: exit 0
 *     401 / 403        the token is not the agent's (or not this pod's): exit with a failure
 *
 * The standby token is in the sidecar's environment (`TOKEN_VARIABLE`) with `BEEMESH_AGENT_URL`
 * and nothing else of its identity; apps never read a sidecar's environment. A claim's `env`
 * holds every other `BEEMESH_*` variable of SidecarEnvironment, as the agent encodes them for a
 * sidecar it starts with its identity.
 */
import { Result, Schema } from "effect"

export const PATH = "/v1/standby"

/** The environment variable holding a standby sidecar's token. */
export const TOKEN_VARIABLE = "BEEMESH_STANDBY_TOKEN"

/** How long the agent holds a standby sidecar's request before it answers 204. */
export const HOLD_MS = 25_000

/** Largest claim body a sidecar accepts (an encoded SidecarEnvironment is a few KiB). */
export const MAX_CLAIM_BYTES = 256 * 1024

const VARIABLE_NAME = /^BEEMESH_[A-Z0-9_]+$/

/** The body of a 200: the sidecar's `BEEMESH_*` variables (never its standby token). */
export const Claim = Schema.Struct({
  env: Schema.Record(Schema.String, Schema.String),
})
export type Claim = typeof Claim.Type

const decodeClaimBody = Schema.decodeUnknownResult(Claim)

/** A claim from a parsed JSON body, or why it is not one. */
export const decodeClaim = (body: unknown): Result.Result<Claim, string> =>
  Result.mapError(decodeClaimBody(body), (error) => `not a standby claim: ${error.message}`).pipe(
    Result.flatMap((claim) => {
      // A record schema drops keys its key schema refuses: names are checked here, not dropped.
      const other = Object.keys(claim.env).find((name) => !VARIABLE_NAME.test(name))
      if (other !== undefined)
        return Result.fail(`not a standby claim: ${other} is not a BEEMESH_* variable`)
      if (TOKEN_VARIABLE in claim.env)
        return Result.fail(`not a standby claim: it sets ${TOKEN_VARIABLE}`)
      return Result.succeed(claim)
    }),
  )
