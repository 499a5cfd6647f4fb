/** The operator-only guard of the route modules added beside Api.ts (logs, peers, traffic …). */
import type { MiddlewareHandler } from "hono"
import { constantTimeEqual } from "../Tokens"
import { ApiError } from "./ErrorStatus"

/** Throws 401 unless the request carries `Authorization: Bearer <operator token>`. */
export const requireOperator = (authorization: string | undefined, operatorToken: string) => {
  const token = authorization?.startsWith("Bearer ")
    ? authorization.slice("Bearer ".length).trim()
    : undefined
  if (token === undefined) {
    throw new ApiError(401, "Unauthorized", "send Authorization: Bearer <operator token>")
  }
  if (!constantTimeEqual(token, operatorToken)) {
    throw new ApiError(401, "Unauthorized", "this endpoint needs the agent's operator token")
  }
}

/**
 * The guard as per-route middleware. Not `app.use()`: a sub-app's `use` is mounted as
 * `<prefix>/*` and would also guard the sidecars' routes under the same prefix.
 */
export const operatorOnly =
  (operatorToken: string): MiddlewareHandler =>
  async (c, next) => {
    requireOperator(c.req.header("authorization"), operatorToken)
    await next()
  }
