import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { issueRevocations, loadOrCreateKey, peerIdOfKey, RevocationList } from "@beemesh/p2p"
import { Effect } from "effect"
import { Hono } from "hono"
import { afterAll, describe, expect, it } from "vitest"
import { ApiError } from "./ErrorStatus"
import { meshRoutes } from "./MeshRoutes"

const dirs: Array<string> = []
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})
const newKey = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), "agent-mesh-routes-"))
  dirs.push(dir)
  return Effect.runPromise(loadOrCreateKey(join(dir, name)))
}

describe("PUT /v1/mesh/revocations", () => {
  it("adopts a newer list signed by the authority, keeps the newest, refuses a forged one and callers without the operator token", async () => {
    const authority = await newKey("authority.key")
    const list = new RevocationList(peerIdOfKey(authority))
    const app = new Hono()
      .route("/v1/mesh", meshRoutes({ operatorToken: "op-token", revocations: list }))
      .onError((error, c) =>
        error instanceof ApiError
          ? c.json({ error: error.tag }, error.status)
          : c.json({ error: "InternalError" }, 500),
      )
    const put = (body: string, token = "op-token") =>
      app.request("/v1/mesh/revocations", {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
        body,
      })
    const sign = (issuedAt: number, signer = authority) =>
      Effect.runPromise(
        issueRevocations(signer, { issuedAt, serials: [], subjects: ["12D3KooWrevoked"] }),
      )
    const newer = await sign(2_000)
    const first = await put(newer)
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ adopted: true, issuedAt: 2_000 })
    expect(list.revoked().subjects.has("12D3KooWrevoked")).toBe(true)
    expect(await (await put(await sign(1_000))).json()).toMatchObject({
      adopted: false,
      issuedAt: 2_000,
    })
    const forged = await put(await sign(3_000, await newKey("other.key")))
    expect(forged.status).toBe(400)
    expect(JSON.stringify(await forged.json())).toContain("wrong-issuer")
    expect((await put(newer, "not-the-token")).status).toBe(401)
    expect(list.current()).toBe(newer)
  })
})
