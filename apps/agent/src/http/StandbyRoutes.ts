/**
 * `GET /v1/standby` (a standby token): what a sidecar started ahead of need asks for its identity
 * (see `Standby` of @beemesh/contract and deployer/WarmPods.ts). Held until its pod is claimed, at
 * most `Standby.HOLD_MS`: 200 with the replica's variables, 204 when not claimed meanwhile, 410
 * when the pod is being removed unclaimed, 401 for a token that is no standby pod's.
 */
import type { Standby } from "@beemesh/contract"
import { Hono } from "hono"
import type { StandbyAnswer } from "../deployer/WarmPods"
import { ApiError } from "./ErrorStatus"

export const standbyRoutes = (options: {
  readonly answer: (token: string) => Promise<StandbyAnswer>
}) =>
  new Hono().get("/", async (c) => {
    const authorization = c.req.header("authorization")
    const token = authorization?.startsWith("Bearer ")
      ? authorization.slice("Bearer ".length).trim()
      : ""
    if (token === "")
      throw new ApiError(401, "Unauthorized", "send Authorization: Bearer <standby token>")
    const answer = await options.answer(token)
    switch (answer._tag) {
      case "Claimed":
        return c.json({ env: answer.env } satisfies Standby.Claim)
      case "Waiting":
        return c.body(null, 204)
      case "Retired":
        return c.body(null, 410)
      case "Unknown":
        throw new ApiError(
          401,
          "Unauthorized",
          "this token is not one of this agent's standby pods (it was spent, or the pod is gone)",
        )
    }
  })
