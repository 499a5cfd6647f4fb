/**
 * `PUT /v1/mesh/revocations` (operator): a revocation list signed by the mesh authority (`mesh
 * revoke`), as the body. A newer list than the agent's is adopted (connections re-checked at once,
 * kept in the data directory) and spread to every agent; an older or the same one changes
 * nothing; one the authority did not sign is refused. `GET` answers the list in force.
 */
import type { RevocationList } from "@beemesh/p2p"
import { Result } from "effect"
import { Hono } from "hono"
import { operatorOnly } from "./OperatorAuth"

export const meshRoutes = (options: {
  readonly operatorToken: string
  readonly revocations: RevocationList
}) =>
  new Hono()
    .put("/revocations", operatorOnly(options.operatorToken), async (c) => {
      const text = await c.req.text()
      const offered = await options.revocations.offer(text)
      if (Result.isFailure(offered))
        return c.json(
          {
            error: "RevocationsRefused",
            message: `${offered.failure.message}; sign the list with this mesh's authority key (beemesh-agent mesh revoke)`,
          },
          400,
        )
      return c.json({
        adopted: offered.success,
        issuedAt: options.revocations.issuedAt(),
        ...(offered.success
          ? {}
          : { message: "this agent already holds this list or a newer one" }),
      })
    })
    .get("/revocations", operatorOnly(options.operatorToken), (c) =>
      c.json({
        issuedAt: options.revocations.issuedAt() ?? null,
        list: options.revocations.current() ?? null,
      }),
    )
