import { containerName, LABEL_ROLE } from "@beemesh/podman"
import { makeFakePodman } from "@beemesh/podman/testing"
import { Effect, Stream } from "effect"
import { describe, expect, it } from "vitest"
import { OPERATOR, orders, POD } from "../../test/support/apiFixtures"
import { makeApi } from "./Api"
import { chooseContainer, logsRoutes } from "./LogsRoutes"
import { peersRoutes } from "./PeersRoutes"
import { servicesRoutes } from "./ServicesRoutes"

const workloads = {
  apply: () => Effect.die("not used"),
  list: () => Effect.succeed([orders]),
  get: () => Effect.die("not used"),
  remove: () => Effect.die("not used"),
  orphans: () => Effect.succeed([]),
  configs: () => Effect.succeed([]),
  removeConfig: () => Effect.die("unused"),
  services: () => Effect.die("unused"),
  removeService: () => Effect.die("unused"),
  registered: () => Effect.void,
  live: () => Effect.succeed(undefined),
}

const makeTestApi = Effect.gen(function* () {
  const podman = yield* makeFakePodman({
    images: ["localhost/x"],
    logs: (container) =>
      container === containerName(POD, "app")
        ? { stdout: "one\ntwo\nthree\n", stderr: "" }
        : { stdout: "sidecar ready\n", stderr: "" },
  })
  yield* podman.pods.create({ name: POD, labels: {} })
  for (const [name, role] of [
    ["sidecar", "sidecar"],
    ["app", "app"],
  ] as const) {
    yield* podman.containers.create({
      name: containerName(POD, name),
      image: "localhost/x",
      pod: POD,
      labels: { [LABEL_ROLE]: role },
    })
  }
  const runExit = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromiseExit(effect)
  return makeApi({
    workloads,
    manifests: { put: () => Effect.die("no"), get: () => Effect.die("no") },
    directory: {
      register: () => Effect.die("no"),
      unregister: () => Effect.die("no"),
      resolve: (namespace, service) =>
        Effect.succeed([
          {
            peerId: "12D3KooWx",
            multiaddrs: ["/ip4/127.0.0.1/tcp/1"],
            pod: POD,
            workload: `${namespace}-${service}`,
          },
        ]),
    },
    operatorToken: OPERATOR,
    podTokenKey: "k".repeat(43),
    addresses: { advertiseHost: "127.0.0.1", relays: [] },
    health: async () => ({ ok: true }),
    metrics: async () => "",
    routes: [
      [
        "/v1/pods",
        logsRoutes({
          operatorToken: OPERATOR,
          workloads,
          podman,
          runExit,
          toReadable: (stream) => Stream.toReadableStream(stream),
        }),
      ],
      [
        "/v1/peers",
        peersRoutes({
          operatorToken: OPERATOR,
          peers: () => ({
            peerId: "12D3KooWself",
            multiaddrs: [],
            dhtRoutingTableSize: 3,
            connections: [],
          }),
        }),
      ],
      [
        "/v1/services",
        servicesRoutes({
          operatorToken: OPERATOR,
          workloads,
          directory: {
            register: () => Effect.die("no"),
            unregister: () => Effect.die("no"),
            resolve: (namespace, service) =>
              Effect.succeed([
                {
                  peerId: "12D3KooWx",
                  multiaddrs: [],
                  pod: POD,
                  workload: `${namespace}/${service}`,
                },
              ]),
          },
          runExit,
        }),
      ],
    ],
  })
})

/** `token` "" sends no Authorization header. */
const get = async (path: string, token = OPERATOR) => {
  const api = await Effect.runPromise(makeTestApi)
  return api.request(path, {
    headers: token === "" ? {} : { authorization: `Bearer ${token}` },
  })
}

describe("operator routes", () => {
  it("logs of a pod's only app container, with tail, as plain text", async () => {
    const response = await get(`/v1/pods/${POD}/logs?tail=2`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("two\nthree\n")
  })

  it("followed logs stream what Podman's log stream gives, for the container asked for", async () => {
    const response = await get(`/v1/pods/${POD}/logs?follow=true&container=sidecar`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("sidecar ready\n")
  })

  it("logs of a pod this agent does not run: 404 that says how to list pods", async () => {
    const response = await get("/v1/pods/bm-other-0/logs")
    expect(response.status).toBe(404)
    expect(((await response.json()) as { message: string }).message).toContain("beemesh get pods")
  })

  it("an unknown container is named with the pod's containers", async () => {
    const response = await get(`/v1/pods/${POD}/logs?container=db`)
    expect(response.status).toBe(404)
    expect(((await response.json()) as { message: string }).message).toBe(
      `pod ${POD} has no container "db"; its containers: sidecar, app`,
    )
  })

  it("a pod with several app containers needs one named", () => {
    expect(() =>
      chooseContainer(
        "p",
        [
          { name: "a", role: "app" },
          { name: "b", role: "app" },
        ],
        undefined,
      ),
    ).toThrow(/name one with \?container=/)
  })

  it("peers and services need the operator token", async () => {
    expect((await get("/v1/peers", "")).status).toBe(401)
    expect((await get("/v1/services", "wrong")).status).toBe(401)
    expect(await (await get("/v1/peers")).json()).toMatchObject({ dhtRoutingTableSize: 3 })
  })

  it("services list each declared service with its providers", async () => {
    const body = (await (await get("/v1/services")).json()) as { services: Array<unknown> }
    expect(body.services).toEqual([
      {
        namespace: "shop",
        name: "orders",
        offeredBy: [{ workload: "orders", port: 80 }],
        providers: [{ peerId: "12D3KooWx", multiaddrs: [], pod: POD, workload: "shop/orders" }],
      },
    ])
  })
})
