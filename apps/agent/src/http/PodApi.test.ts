import { HostLoopback, Registration, Resolution } from "@beemesh/contract"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import type { Registration as DirectoryRegistration } from "../Directory"
import { issuePodToken } from "../Tokens"
import { makeApi } from "./Api"

const KEY = "k".repeat(43)
const token = issuePodToken(KEY, { namespace: "shop", workload: "web", pod: "web-0" })
const registered: Array<DirectoryRegistration> = []

const api = makeApi({
  workloads: {
    apply: () => Effect.die("unused"),
    list: () => Effect.die("unused"),
    get: (namespace, name) =>
      Effect.succeed({
        namespace,
        name,
        kind: "Deployment" as const,
        replicas: 1,
        services: [{ name: "web", port: 80 }],
        ready: 1,
        pods: [],
      }),
    remove: () => Effect.die("unused"),
  },
  manifests: { put: () => Effect.die("unused"), get: () => Effect.die("unused") },
  directory: {
    register: (registration) =>
      Effect.sync(() => registered.push(registration)).pipe(
        Effect.as({ ttlSeconds: 30, renewAfterSeconds: 10 }),
      ),
    unregister: () => Effect.void,
    resolve: () =>
      Effect.succeed([
        {
          peerId: "12D3KooWweb",
          multiaddrs: ["/ip4/127.0.0.1/tcp/41000/p2p/12D3KooWweb", "/ip4/192.0.2.7/tcp/41001"],
          pod: "web-0",
          workload: "web",
        },
      ]),
  },
  operatorToken: "o".repeat(43),
  podTokenKey: KEY,
  health: async () => ({ ok: true }),
  metrics: async () => "",
  addressForPods: (address) => HostLoopback.forPods(address, "10.0.2.2"),
})

const call = (method: string, path: string, body?: unknown) =>
  api.request(path, {
    method,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })

describe("the agent's pod API speaks the contract the sidecar uses", () => {
  it("registers at the contract's path and answers with a Lease", async () => {
    const body: Registration.Registration = {
      namespace: "shop",
      workload: "web",
      pod: "web-0",
      peerId: "12D3KooWweb",
      multiaddrs: ["/ip4/127.0.0.1/tcp/41000"],
      services: [{ name: "web", port: 80 }],
    }
    registered.length = 0
    const response = await call("PUT", Registration.path("web-0"), body)
    expect(response.status).toBe(Registration.REGISTERED)
    expect(Schema.decodeUnknownSync(Registration.Lease)(await response.json())).toEqual({
      ttlSeconds: 30,
      renewAfterSeconds: 10,
    })
    expect(registered).toEqual([
      {
        identity: { namespace: "shop", workload: "web", pod: "web-0" },
        peerId: body.peerId,
        multiaddrs: body.multiaddrs,
        services: body.services,
      },
    ])
  })

  it("unregisters at the contract's path", async () => {
    const response = await call("DELETE", Registration.path("web-0"))
    expect(response.status).toBe(Registration.UNREGISTERED)
  })

  it("refuses a registration that breaks the contract as RegistrationInvalid (400)", async () => {
    const response = await call("PUT", Registration.path("web-0"), { pod: "web-0" })
    expect(response.status).toBe(400)
    const answer = (await response.json()) as { error: string; message: string }
    expect(answer.error).toBe("RegistrationInvalid")
    expect(answer.message).toMatch(/^registration: /)
  })

  it("resolves for a pod with its host's loopback replaced by the pod network's gateway", async () => {
    const response = await call("GET", Resolution.path("shop", "web"))
    expect(response.status).toBe(Resolution.RESOLVED)
    const answer = Schema.decodeUnknownSync(Resolution.ResolveResponse)(await response.json())
    expect(answer.providers[0]?.multiaddrs).toEqual([
      "/ip4/10.0.2.2/tcp/41000/p2p/12D3KooWweb",
      "/ip4/192.0.2.7/tcp/41001",
    ])
  })
})
