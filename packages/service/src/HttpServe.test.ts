import { createServer } from "node:net"
import { Effect, Exit, Scope } from "effect"
import { Hono } from "hono"
import { describe, expect, it } from "vitest"
import { serveHttp } from "./HttpServe.js"

const app = new Hono().get("/ping", (c) => c.text("pong"))

/** Whether a plain TCP server can bind the port now (it is free). */
const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer()
    probe.once("error", () => resolve(false))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)))
  })

describe("serveHttp", () => {
  it("binds a free port, serves the app, and releases the port when its scope closes", async () => {
    const scope = Effect.runSync(Scope.make())
    const port = await Effect.runPromise(
      Scope.provide(scope)(serveHttp(app, { host: "127.0.0.1", port: 0 })),
    )
    expect(port).toBeGreaterThan(0)
    // A keep-alive connection must not hold the close open.
    const response = await fetch(`http://127.0.0.1:${port}/ping`)
    expect(await response.text()).toBe("pong")
    expect(await canBind(port)).toBe(false)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(await canBind(port)).toBe(true)
  })

  it("fails with ListenFailed naming the address and the reason when the port is taken", async () => {
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* serveHttp(app, { host: "127.0.0.1", port: 0 })
          return yield* Effect.flip(serveHttp(app, { host: "127.0.0.1", port }))
        }),
      ),
    )
    expect(error._tag).toBe("ListenFailed")
    expect(error.message).toMatch(/^cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
  })
})
