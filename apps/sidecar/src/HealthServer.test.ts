import { PrometheusText } from "@beemesh/service"
import { Effect, Exit, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { makeHealthApp, type Readiness, runHealthcheck, serveHealth } from "./HealthServer"

const probe = (readiness: Readiness) => ({ readiness: () => readiness, metrics: () => "m 1\n" })

describe("health app", () => {
  it("answers liveness", async () => {
    const res = await makeHealthApp(probe({ ready: false, reasons: ["x"] })).request("/healthz")
    expect(res.status).toBe(200)
  })

  it("answers 503 with the reasons while not ready, 200 when ready", async () => {
    const notReady = await makeHealthApp(
      probe({ ready: false, reasons: ["not registered"] }),
    ).request("/readyz")
    expect(notReady.status).toBe(503)
    expect(await notReady.json()).toEqual({ ready: false, reasons: ["not registered"] })
    const ready = await makeHealthApp(probe({ ready: true, reasons: [] })).request("/readyz")
    expect(ready.status).toBe(200)
  })

  it("serves metrics as Prometheus text", async () => {
    const res = await makeHealthApp(probe({ ready: true, reasons: [] })).request("/metrics")
    expect(res.headers.get("content-type")).toBe(PrometheusText.CONTENT_TYPE)
    expect(await res.text()).toBe("m 1\n")
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
