import { ProbeReport } from "@beemesh/contract"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ProbeNotFound } from "../deployer/ReplicaProbes"
import { issuePodToken } from "../Tokens"
import { type ApiOptions, makeApi } from "./Api"

const KEY = "k".repeat(43)
const webToken = issuePodToken(KEY, { namespace: "shop", workload: "web", pod: "web-0" })
const otherToken = issuePodToken(KEY, { namespace: "shop", workload: "db", pod: "db-0" })

const seen: Array<string> = []
const unused = () => Effect.die("not used")
const options: ApiOptions = {
  workloads: {
    apply: unused,
    list: unused,
    get: unused,
    remove: unused,
    orphans: unused,
    configs: unused,
    removeConfig: unused,
    services: unused,
    removeService: unused,
    registered: unused,
    live: () => Effect.succeed({ generation: "", hostPort: 41000 }),
  },
  probes: {
    exec: (identity, request) =>
      Effect.suspend(() => {
        seen.push(`exec ${identity.pod} ${request.probe} ${request.container}`)
        return request.container === "app"
          ? Effect.succeed({ ok: false, message: "exited with code 1" })
          : Effect.fail(new ProbeNotFound({ pod: "bm-shop-web-0", ...request }))
      }),
    failed: (identity, failure) =>
      Effect.sync(
        () => void seen.push(`failed ${identity.pod} ${failure.probe} ${failure.message}`),
      ),
  },
  manifests: { put: unused, get: unused },
  directory: { register: unused, unregister: unused, resolve: unused },
  operatorToken: "o".repeat(43),
  podTokenKey: KEY,
  addresses: { advertiseHost: "127.0.0.1", relays: [] },
  health: async () => ({ ok: true }),
  metrics: async () => "",
}
const api = makeApi(options)

const post = async (path: string, body: unknown, token = webToken) => {
  const response = await api.request(path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: typeof body === "string" ? body : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, json: text === "" ? undefined : JSON.parse(text) }
}

describe("the pod's probe endpoints speak ProbeReport", () => {
  it("runs an exec probe at the contract's path and answers with an ExecResult", async () => {
    seen.length = 0
    const answer = await post(ProbeReport.execPath("web-0"), {
      probe: "readiness",
      container: "app",
    })
    expect(answer.status).toBe(ProbeReport.EXECUTED)
    expect(Schema.decodeUnknownSync(ProbeReport.ExecResult)(answer.json)).toEqual({
      ok: false,
      message: "exited with code 1",
    })
    expect(seen).toEqual(["exec web-0 readiness app"])
  })

  it("records a failure at the contract's path (202)", async () => {
    seen.length = 0
    const answer = await post(ProbeReport.failurePath("web-0"), {
      probe: "liveness",
      container: "app",
      message: "HTTP 500",
    })
    expect(answer.status).toBe(ProbeReport.RECORDED)
    expect(seen).toEqual(["failed web-0 liveness HTTP 500"])
  })

  it("a probe the manifest does not have is a 404 ProbeNotFound", async () => {
    const answer = await post(ProbeReport.execPath("web-0"), { probe: "startup", container: "db" })
    expect(answer.status).toBe(404)
    expect(answer.json.error).toBe("ProbeNotFound")
  })

  it.each([
    [
      "another pod's token",
      ProbeReport.execPath("web-0"),
      { probe: "readiness", container: "app" },
      otherToken,
      403,
      /belongs to pod db-0/,
    ],
    ["a body that is not JSON", ProbeReport.execPath("web-0"), "{", webToken, 400, /must be JSON/],
    [
      "a readiness failure report",
      ProbeReport.failurePath("web-0"),
      { probe: "readiness", container: "app", message: "x" },
      webToken,
      400,
      /^probe report: /,
    ],
    [
      "an unknown action",
      "/v1/pods/web-0/probes/run",
      { probe: "readiness", container: "app" },
      webToken,
      404,
      /no route/,
    ],
  ] as const)(
    "refuses %s before reaching the probes",
    async (_, path, body, token, status, message) => {
      seen.length = 0
      const answer = await post(path, body, token)
      expect(answer.status).toBe(status)
      expect(answer.json.message).toMatch(message)
      expect(seen).toEqual([])
    },
  )
})
