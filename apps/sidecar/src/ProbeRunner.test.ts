import { createServer as createHttpServer, type Server as HttpServer } from "node:http"
import { createServer, type Server } from "node:net"
import type { ReadinessProbe } from "@beemesh/contract"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { closeServer, freePort } from "../test/support/net"
import { runProbe } from "./ProbeRunner"

const timing = {
  initialDelaySeconds: 0,
  periodSeconds: 1,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 1,
}
const httpGet = (port: number, path = "/ready"): ReadinessProbe.ReadinessProbe => ({
  container: "web",
  action: "httpGet",
  port,
  path,
  ...timing,
})
const tcpSocket = (port: number): ReadinessProbe.ReadinessProbe => ({
  container: "db",
  action: "tcpSocket",
  port,
  ...timing,
})

const servers: Array<Server | HttpServer> = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if ("closeAllConnections" in s) s.closeAllConnections()
    await closeServer(s as Server)
  }
})

const listen = async <S extends Server | HttpServer>(server: S): Promise<number> => {
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return (server.address() as { port: number }).port
}

/** An app answering each path with the status the map gives (404 otherwise); "hang" never answers. */
const app = (answers: Readonly<Record<string, number | "hang">>) =>
  listen(
    createHttpServer((req, res) => {
      const answer = answers[req.url ?? ""] ?? 404
      if (answer === "hang") return
      res.writeHead(answer, answer === 302 ? { location: "/elsewhere" } : {}).end()
    }),
  )

describe("runProbe", () => {
  it("httpGet passes on 200-399 and fails on other statuses, naming the status", async () => {
    const port = await app({ "/ok": 200, "/moved": 302, "/down": 503 })
    const run = (path: string) => Effect.runPromise(runProbe(httpGet(port, path)))
    expect(await run("/ok")).toEqual({
      ok: true,
      message: `httpGet http://127.0.0.1:${port}/ok: HTTP 200`,
    })
    expect((await run("/moved")).ok).toBe(true)
    expect(await run("/down")).toEqual({
      ok: false,
      message: `httpGet http://127.0.0.1:${port}/down: HTTP 503`,
    })
    expect((await run("/missing")).message).toContain("HTTP 404")
  })

  it("httpGet fails with the reason when nothing listens", async () => {
    const port = await freePort()
    expect(await Effect.runPromise(runProbe(httpGet(port)))).toEqual({
      ok: false,
      message: `httpGet http://127.0.0.1:${port}/ready: connection refused`,
    })
  })

  it("httpGet fails after timeoutSeconds when the app does not answer", async () => {
    const port = await app({ "/ready": "hang" })
    const started = Date.now()
    const result = await Effect.runPromise(runProbe(httpGet(port)))
    expect(result).toEqual({
      ok: false,
      message: `httpGet http://127.0.0.1:${port}/ready: no answer within 1s (timeoutSeconds)`,
    })
    expect(Date.now() - started).toBeLessThan(2_500)
  })

  it("tcpSocket passes when a connection opens and fails when refused", async () => {
    const port = await listen(createServer((socket) => socket.end()))
    expect(await Effect.runPromise(runProbe(tcpSocket(port)))).toEqual({
      ok: true,
      message: `tcpSocket 127.0.0.1:${port}: connected`,
    })
    const closed = await freePort()
    expect((await Effect.runPromise(runProbe(tcpSocket(closed)))).message).toBe(
      `tcpSocket 127.0.0.1:${closed}: connection refused`,
    )
  })
})
