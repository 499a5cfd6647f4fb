/**
 * Who is calling the agent's API, from the bearer token: the operator, the sidecar of a pod this
 * agent runs now (its token signed by the agent and issued to the pod's current generation, see
 * Tokens.ts), or a scraper holding the metrics token (which reads /metrics and nothing else).
 */
import { constantTimeEqual, type PodIdentity, verifyPodCredential } from "../Tokens"
import type { LiveReplica } from "../Workloads"
import { ApiError } from "./ErrorStatus"

export type Caller =
  | { readonly kind: "operator" }
  | { readonly kind: "pod"; readonly identity: PodIdentity; readonly replica: LiveReplica }

export interface CallersOptions {
  readonly operatorToken: string
  readonly podTokenKey: string
  /** Reads /metrics only. Absent: only the operator token does. */
  readonly metricsToken?: string
  /** The replica a pod token names, while this agent runs its pod (WorkloadManager.live). */
  readonly live: (identity: PodIdentity) => Promise<LiveReplica | undefined>
}

const bearer = (header: string | undefined): string | undefined =>
  header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined

export const makeCallers = (options: CallersOptions) => {
  const caller = async (authorization: string | undefined): Promise<Caller> => {
    const token = bearer(authorization)
    if (token === undefined) {
      throw new ApiError(
        401,
        "Unauthorized",
        "send Authorization: Bearer <token> (operator token or pod token)",
      )
    }
    if (constantTimeEqual(token, options.operatorToken)) return { kind: "operator" }
    const credential = verifyPodCredential(options.podTokenKey, token)
    if (credential === undefined)
      throw new ApiError(401, "Unauthorized", "the bearer token is not valid for this agent")
    // Signed by this agent, but only good while its pod runs as the one it was issued to.
    const { identity, generation } = credential
    const replica = await options.live(identity)
    const pod = `${identity.namespace}/${identity.workload}/${identity.pod}`
    if (replica === undefined)
      throw new ApiError(
        401,
        "PodTokenRevoked",
        `this pod token is for pod ${pod}, which this agent does not run (deleted, or never created here); a pod token is valid only while its pod runs`,
      )
    if (!constantTimeEqual(generation, replica.generation))
      throw new ApiError(
        401,
        "PodTokenRevoked",
        `this pod token is for an earlier pod ${pod}, since deleted or recreated under the same name; only the sidecar of the pod running now holds a valid token`,
      )
    return { kind: "pod", identity, replica }
  }

  /** Throws unless the operator calls. */
  const operator = async (authorization: string | undefined) => {
    if ((await caller(authorization)).kind !== "operator") {
      throw new ApiError(
        403,
        "Forbidden",
        "workload endpoints need the operator token, not a pod token",
      )
    }
  }

  /** The calling pod, which must be `podName` (its token's pod, running now). */
  const pod = async (authorization: string | undefined, podName: string) => {
    const who = await caller(authorization)
    if (who.kind !== "pod") {
      throw new ApiError(403, "Forbidden", "service registration needs the pod's own token")
    }
    if (who.identity.pod !== podName) {
      throw new ApiError(
        403,
        "Forbidden",
        `this pod token belongs to pod ${who.identity.pod}, not ${podName}`,
      )
    }
    return who
  }

  /** Whether the request carries the operator token (never throws: for answers that differ). */
  const isOperator = (authorization: string | undefined) => {
    const token = bearer(authorization)
    return token !== undefined && constantTimeEqual(token, options.operatorToken)
  }

  /** Throws 401 unless the request carries the metrics token or the operator token. */
  const mayReadMetrics = (authorization: string | undefined) => {
    const token = bearer(authorization)
    const { metricsToken } = options
    if (
      token !== undefined &&
      (constantTimeEqual(token, options.operatorToken) ||
        (metricsToken !== undefined && constantTimeEqual(token, metricsToken)))
    )
      return
    throw new ApiError(
      401,
      "Unauthorized",
      "GET /metrics needs Authorization: Bearer <metrics token> (the file metrics-token in the agent's data directory) or the operator token",
    )
  }

  return { caller, operator, pod, isOperator, mayReadMetrics }
}
