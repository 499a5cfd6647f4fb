import { createServer, type Server } from "node:net"
import { ListenFailed, Outbound } from "@beemesh/proxy"
import { Effect, Layer } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { decodeSettings, SidecarConfig } from "./SidecarConfig"
import { noIpv6Loopback, UpstreamsLayer } from "./SidecarLayers"

/** The error Node gives when listening on host:port (binding sends nothing on the network). */
const listenError = (host: string, port: number) =>
  new Promise<Error>((resolve, reject) => {
    const server = createServer()
    servers.push(server)
    server.once("error", resolve)
    server.listen(port, host, () => reject(new Error(`listening on ${host}:${port} succeeded`)))
  })

const servers: Array<Server> = []
afterEach(() => {
  for (const server of servers.splice(0)) server.close()
})

const failed = (host: string, port: number, cause: Error) =>
  new ListenFailed({ service: "web", host, port, cause })

describe("the optional [::1] upstream listener", () => {
  it("is skipped when the address does not exist in the network namespace", async () => {
    // fd00::dead is assigned nowhere here: the kernel answers as for ::1 in a pod without IPv6.
    const cause = await listenError("fd00::dead", 0)
    expect((cause as { code?: string }).code).toBe("EADDRNOTAVAIL")
    expect(noIpv6Loopback(failed("fd00::dead", 0, cause))).toBe(true)
  })

  it("still fails the sidecar when the port is taken", async () => {
    const holder = createServer()
    servers.push(holder)
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, "127.0.0.1", () => resolve((holder.address() as { port: number }).port)),
    )
    const cause = await listenError("127.0.0.1", port)
    expect((cause as { code?: string }).code).toBe("EADDRINUSE")
    expect(noIpv6Loopback(failed("127.0.0.1", port, cause))).toBe(false)
  })
})

describe("the upstream listeners", () => {
  it("serve every port of a multi-port Service at its one address, each resolving its own name", async () => {
    const calls: Array<{ service: string; host: string; port: number }> = []
    const outbound = Layer.succeed(Outbound, {
      listen: (upstream) =>
        Effect.sync(() => {
          const listener = {
            service: upstream.service,
            host: upstream.host ?? "127.0.0.1",
            port: upstream.port,
          }
          calls.push(listener)
          return listener
        }),
      activeConnections: () => 0,
    })
    const settings = await Effect.runPromise(
      decodeSettings({
        BEEMESH_NAMESPACE: "shop",
        BEEMESH_WORKLOAD: "client",
        BEEMESH_POD: "client",
        BEEMESH_POD_TOKEN: "tok-0123456789abcdef",
        BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/40123",
        BEEMESH_UPSTREAMS: "web:http=80,orders=9001,web:metrics=9090",
      }),
    )
    await Effect.runPromise(
      Layer.build(
        UpstreamsLayer.pipe(Layer.provide([outbound, SidecarConfig.layer(settings)])),
      ).pipe(Effect.scoped),
    )
    expect(calls.filter((call) => call.host !== "::1")).toEqual([
      { service: "web--http", host: "127.0.0.1", port: 80 },
      { service: "web--http", host: "127.0.0.2", port: 80 },
      { service: "orders", host: "127.0.0.1", port: 9001 },
      { service: "orders", host: "127.0.0.3", port: 9001 },
      { service: "web--metrics", host: "127.0.0.1", port: 9090 },
      { service: "web--metrics", host: "127.0.0.2", port: 9090 },
    ])
  })
})
