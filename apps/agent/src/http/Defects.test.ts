import { Effect, Logger } from "effect"
import { describe, expect, it } from "vitest"
import { type ApiOptions, INTERNAL_ERROR, makeApi } from "./Api"

const OPERATOR = "o".repeat(43)

/** An API whose workload list dies (a defect with a stack) and whose health check throws. */
const withDefects = () => {
  const logged: Array<string> = []
  const broken = () => Effect.die(new Error("broken invariant at /srv/agent/src/Secret.ts:12"))
  const options: ApiOptions = {
    workloads: {
      apply: broken,
      list: broken,
      get: broken,
      remove: broken,
      orphans: broken,
      configs: broken,
      removeConfig: broken,
      services: broken,
      removeService: broken,
      registered: broken,
      live: broken,
    },
    manifests: { put: broken, get: broken },
    directory: { register: broken, unregister: broken, resolve: broken },
    operatorToken: OPERATOR,
    podTokenKey: "k".repeat(43),
    addresses: { advertiseHost: "127.0.0.1", relays: [] },
    health: async () => {
      throw new TypeError("cannot read properties of undefined (reading 'ok') in /srv/agent")
    },
    metrics: async () => "",
    // Records what the agent would log (instead of the console), to check the cause is kept.
    runExit: (effect) =>
      Effect.runPromiseExit(
        effect.pipe(
          Effect.withLogger(Logger.make(({ message }) => void logged.push(String(message)))),
          Effect.provide(Logger.layer([])),
        ),
      ),
  }
  return { api: makeApi(options), logged }
}

describe("the API's answer to a defect", () => {
  it.each([
    ["a dying effect", "/v1/workloads", { authorization: `Bearer ${OPERATOR}` }],
    ["a throwing handler", "/health", {}],
  ])("%s: a fixed 500 message, no stack or path; the cause is logged", async (_, path, headers) => {
    const { api, logged } = withDefects()
    const response = await api.request(path, { headers })
    expect(response.status).toBe(500)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toEqual({ error: "InternalError", message: INTERNAL_ERROR })
    expect(JSON.stringify(body)).not.toMatch(/\/srv|\bat |Error:/)
    await new Promise((resolve) => setImmediate(resolve))
    expect(logged.join("\n")).toMatch(/\/srv\/agent/)
  })
})
