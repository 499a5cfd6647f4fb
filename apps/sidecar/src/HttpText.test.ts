import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { httpText, keepAliveAgent } from "./HttpText"

let server: Server | undefined
afterEach(() => {
  server?.closeAllConnections()
  server?.close()
  server = undefined
})

const serve = (handler: Parameters<typeof createServer>[1]) =>
  new Promise<string>((resolve) => {
    server = createServer(handler).listen(0, "127.0.0.1", () =>
      resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`),
    )
  })

/** A server answering "ok" that keeps idle connections `keepAliveMs`, and its connection count. */
const countingServer = async (keepAliveMs: number) => {
  let connections = 0
  const url = await serve((_req, res) => res.end("ok"))
  server!.keepAliveTimeout = keepAliveMs
  server!.on("connection", () => {
    connections++
  })
  return { url, connections: () => connections }
}

describe("httpText", () => {
  it("sends method, headers and body, and reads status and text", async () => {
    const url = await serve((req, res) => {
      let body = ""
      req.on("data", (c) => {
        body += c
      })
      req.on("end", () => {
        res.writeHead(201, { "content-type": "text/plain" })
        res.end(`${req.method} ${req.url} ${req.headers.authorization} ${body}`)
      })
    })
    const answer = await httpText(`${url}/v1/x?y=1`, {
      method: "PUT",
      headers: { authorization: "Bearer t" },
      body: '{"a":"é"}',
      timeoutMs: 2000,
    })
    expect(answer).toEqual({ status: 201, text: 'PUT /v1/x?y=1 Bearer t {"a":"é"}' })
  })

  it("fails as a TimeoutError when the server never answers", async () => {
    const url = await serve(() => {})
    await expect(httpText(url, { method: "GET", timeoutMs: 100 })).rejects.toMatchObject({
      name: "TimeoutError",
    })
  })

  it("fails with the socket's error code when nothing listens", async () => {
    const url = await serve(() => {})
    server!.close()
    await new Promise((r) => setTimeout(r, 50))
    await expect(httpText(url, { method: "GET", timeoutMs: 2000 })).rejects.toMatchObject({
      code: "ECONNREFUSED",
    })
  })

  it("stops on abort and on answers larger than the limit", async () => {
    const url = await serve((_req, res) => {
      res.write("x".repeat(4096))
    })
    const controller = new AbortController()
    const pending = httpText(url, { method: "GET", timeoutMs: 5000, signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toThrow("aborted")
    await expect(httpText(url, { method: "GET", timeoutMs: 5000, maxBytes: 1000 })).rejects.toThrow(
      "larger than 1000 bytes",
    )
  })

  it("reuses one connection with a keep-alive agent, and opens one per request without", async () => {
    const { url, connections } = await countingServer(10_000)
    const agent = keepAliveAgent()
    try {
      for (let i = 0; i < 3; i++)
        expect(await httpText(url, { method: "PUT", body: "x", timeoutMs: 2000, agent })).toEqual({
          status: 200,
          text: "ok",
        })
      expect(connections()).toBe(1)
      for (let i = 0; i < 2; i++) await httpText(url, { method: "GET", timeoutMs: 2000 })
      expect(connections()).toBe(3)
    } finally {
      agent.destroy()
    }
  })

  it("a pooled connection the server closed is not reused: the next request opens another", async () => {
    const { url, connections } = await countingServer(100)
    const agent = keepAliveAgent()
    try {
      await httpText(url, { method: "GET", timeoutMs: 2000, agent })
      await new Promise((resolve) => setTimeout(resolve, 400))
      expect(await httpText(url, { method: "GET", timeoutMs: 2000, agent })).toEqual({
        status: 200,
        text: "ok",
      })
      expect(connections()).toBe(2)
    } finally {
      agent.destroy()
    }
  })
})
