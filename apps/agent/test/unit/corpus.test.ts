/**
 * The bad-input corpus against the agent's API over the real deployer on the fake host: fast and
 * without root. The same corpus runs against a real agent in test/e2e/corpus.test.ts.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeHost, makeFakeHost, startDeployer } from "../../src/deployer/testing"
import { type ApiOptions, makeApi } from "../../src/http/Api"
import { BAD_INPUT, deployment, MAX_BODY, pod } from "../corpus/badInput"
import { expectClearRefusal } from "../corpus/refusal"

const OPERATOR = "o".repeat(43)
let scope: Scope.Closeable
let host: FakeHost
let api: ReturnType<typeof makeApi>

const unreachable = () => Effect.die("must not be reached")

beforeAll(async () => {
  scope = await Effect.runPromise(Scope.make())
  const started = await Effect.runPromise(
    Effect.gen(function* () {
      const fakeHost = yield* makeFakeHost
      return { fakeHost, deployer: yield* startDeployer(fakeHost) }
    }).pipe(Scope.provide(scope)),
  )
  host = started.fakeHost
  const options: ApiOptions = {
    workloads: started.deployer.manager,
    manifests: { put: unreachable, get: unreachable },
    directory: { register: unreachable, unregister: unreachable, resolve: unreachable },
    operatorToken: OPERATOR,
    podTokenKey: "k".repeat(43),
    addresses: { advertiseHost: "127.0.0.1", relays: [] },
    health: async () => ({ ok: true }),
    metrics: async () => "",
    maxManifestBytes: MAX_BODY,
  }
  api = makeApi(options)
})

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
})

const send = async (method: string, path: string, body?: string | Uint8Array) => {
  const response = await api.request(path, {
    method,
    headers: { authorization: `Bearer ${OPERATOR}` },
    ...(body === undefined ? {} : { body }),
  })
  return { status: response.status, text: await response.text() }
}

/**
 * The largest inputs (300 thousand list items, a megabyte of brackets) take the YAML reader a few
 * seconds of CPU each; on a loaded 2-core machine running the other packages' tests beside this
 * one, that passed the default 20 s. The bound is on a test, not a measurement of speed.
 */
const HEAVY_INPUT_TIMEOUT_MS = 90_000

const podNames = () =>
  Effect.runPromise(host.fake.podman.pods.list()).then((pods) => pods.map((p) => p.Name).sort())

describe("the bad-input corpus against the API (fake host)", () => {
  it("has at least 50 manifests", () => {
    expect(BAD_INPUT.length).toBeGreaterThanOrEqual(50)
  })

  it.each(BAD_INPUT.map((input) => [input.name, input] as const))(
    "POST /v1/workloads with %s: a clear 4xx, nothing deployed",
    async (_, input) => {
      const answer = await send("POST", "/v1/workloads", input.body)
      expectClearRefusal(answer, input)
      expect(await podNames()).toEqual([])
      const listed = await send("GET", "/v1/workloads")
      expect(JSON.parse(listed.text)).toEqual({ workloads: [], orphans: [] })
    },
    HEAVY_INPUT_TIMEOUT_MS,
  )

  it.each(BAD_INPUT.map((input) => [input.name, input] as const))(
    "PUT /v1/manifests with %s: the same refusal, nothing stored",
    async (_, input) => {
      expectClearRefusal(await send("PUT", "/v1/manifests/corpus/web", input.body), input)
    },
    HEAVY_INPUT_TIMEOUT_MS,
  )

  it("the manifests the corpus varies are themselves accepted", async () => {
    const answer = await send("POST", "/v1/workloads", `${pod()}\n---\n${deployment()}`)
    expect(answer.status, answer.text).toBe(201)
    expect(await podNames()).toEqual(["bm-corpus-api-0", "bm-corpus-web"])
  })
})
