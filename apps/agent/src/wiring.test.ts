import { Hono } from "hono"
import { describe, expect, it } from "vitest"

describe("workspace wiring", () => {
  it("runs on Node 24", () => {
    expect(process.versions.node.split(".")[0]).toBe("24")
  })

  it("serves a hono route", async () => {
    const app = new Hono().get("/health", (c) => c.json({ ok: true }))
    const response = await app.request("/health")
    expect(await response.json()).toEqual({ ok: true })
  })
})
