import { createServer, type Server } from "node:net"
import { ListenFailed } from "@beemesh/proxy"
import { afterEach, describe, expect, it } from "vitest"
import { noIpv6Loopback } from "./SidecarLayers"

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
