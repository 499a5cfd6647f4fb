import { PrometheusText } from "@beemesh/service"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { healthAnswer, type Readiness, runHealthcheck, serveHealth } from "./HealthServer"
import { httpText } from "./HttpText"

const probe = (readiness: Readiness) => ({ readiness: () => readiness, metrics: () => "m 1\n" })

describe("health app", () => {
  it("answers liveness", async () => {
    const res = healthAnswer(probe({ ready: false, reasons: ["x"] }), "GET", "/healthz")
    expect(res.status).toBe(200)
  })

  it("answers 503 with the reasons while not ready, 200 when ready", async () => {
    const notReady = healthAnswer(
      probe({ ready: false, reasons: ["not registered"] }),
      "GET",
      "/readyz",
    )
    expect(notReady.status).toBe(503)
    expect(JSON.parse(notReady.body)).toEqual({ ready: false, reasons: ["not registered"] })
    const ready = healthAnswer(probe({ ready: true, reasons: [] }), "GET", "/readyz")
    expect(ready.status).toBe(200)
  })

  it("serves metrics as Prometheus text", async () => {
    const res = healthAnswer(probe({ ready: true, reasons: [] }), "GET", "/metrics")
    expect(res.contentType).toBe(PrometheusText.CONTENT_TYPE)
    expect(res.body).toBe("m 1\n")
  })

  it("refuses other methods and paths, naming the routes", () => {
    const ok = probe({ ready: true, reasons: [] })
    expect(healthAnswer(ok, "POST", "/healthz").status).toBe(405)
    const missing = healthAnswer(ok, "GET", "/nope")
    expect(missing.status).toBe(404)
    expect(missing.body).toContain("/readyz")
  })
})

describe("health server and healthcheck command", () => {
  it("serves on a real port; the healthcheck exits 0 when ready and 1 when not or when closed", async () => {
    let ready = false
    const scope = Effect.runSync(Scope.make())
    const port = await Effect.runPromise(
      Scope.provide(scope)(
        serveHealth(
          { readiness: () => ({ ready, reasons: ready ? [] : ["starting"] }), metrics: () => "" },
          "127.0.0.1",
          0,
        ),
      ),
    )
    expect(await runHealthcheck("127.0.0.1", port)).toBe(1)
    ready = true
    expect(await runHealthcheck("127.0.0.1", port)).toBe(0)
    const metrics = await httpText(`http://127.0.0.1:${port}/metrics?x=1`, {
      method: "GET",
      timeoutMs: 2000,
    })
    expect(metrics.status).toBe(200)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(await runHealthcheck("127.0.0.1", port)).toBe(1)
  })

  it("fails with a named error when the port is taken", async () => {
    const scope = Effect.runSync(Scope.make())
    const port = await Effect.runPromise(
      Scope.provide(scope)(serveHealth(probe({ ready: true, reasons: [] }), "127.0.0.1", 0)),
    )
    const second = await Effect.runPromise(
      Effect.scoped(
        Effect.flip(serveHealth(probe({ ready: true, reasons: [] }), "127.0.0.1", port)),
      ),
    )
    expect(second._tag).toBe("HealthListenFailed")
    expect(second.message).toContain(`127.0.0.1:${port}`)
    expect(second.message).toContain("EADDRINUSE")
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })
})
