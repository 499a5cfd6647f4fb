import { request as httpRequest, type IncomingHttpHeaders } from "node:http"
import { connect, createServer } from "node:net"
import { Effect, Exit, Scope } from "effect"
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import { describe, expect, it } from "vitest"
import { serveHttp } from "./HttpServe.js"
import * as LeanFetch from "./LeanFetch.js"

const app = new Hono().get("/ping", (c) => c.text("pong"))

/** Whether a plain TCP server can bind the port now (it is free). */
const canBind = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer()
    probe.once("error", () => resolve(false))
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)))
  })

describe("serveHttp", () => {
  it("binds a free port, serves the app, and releases the port when its scope closes", async () => {
    const scope = Effect.runSync(Scope.make())
    const port = await Effect.runPromise(
      Scope.provide(scope)(serveHttp(app, { host: "127.0.0.1", port: 0 })),
    )
    expect(port).toBeGreaterThan(0)
    // A keep-alive connection must not hold the close open.
    const response = await fetch(`http://127.0.0.1:${port}/ping`)
    expect(await response.text()).toBe("pong")
    expect(await canBind(port)).toBe(false)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(await canBind(port)).toBe(true)
  })

  it("fails with ListenFailed naming the address and the reason when the port is taken", async () => {
    const error = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* serveHttp(app, { host: "127.0.0.1", port: 0 })
          return yield* Effect.flip(serveHttp(app, { host: "127.0.0.1", port }))
        }),
      ),
    )
    expect(error._tag).toBe("ListenFailed")
    expect(error.message).toMatch(/^cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/)
  })

  it("keeps idle connections open for keepAliveTimeoutMs and says so (Node's default: 5 s)", async () => {
    const hint = (keepAliveTimeoutMs?: number) =>
      Effect.runPromise(
        Effect.scoped(
          Effect.gen(function* () {
            const port = yield* serveHttp(app, {
              host: "127.0.0.1",
              port: 0,
              ...(keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs }),
            })
            return yield* Effect.promise(() =>
              send(port, { path: "/ping", headers: { connection: "keep-alive" } }),
            )
          }),
        ),
      )
    expect((await hint()).headers["keep-alive"]).toBe("timeout=5")
    expect((await hint(65_000)).headers["keep-alive"]).toBe("timeout=65")
  })
})

interface Answer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/** One request with node:http: `chunks` are written one by one (chunked unless a length is set). */
const send = (
  port: number,
  options: {
    readonly method?: string
    readonly path: string
    readonly headers?: Record<string, string>
    readonly chunks?: ReadonlyArray<string>
  },
) =>
  new Promise<Answer>((resolve, reject) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers ?? {},
        agent: false,
      },
      (response) => {
        let body = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (body += chunk))
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        )
      },
    )
    request.on("error", reject)
    for (const chunk of options.chunks ?? []) request.write(chunk)
    request.end()
  })

/** Serves `app` for the body of `use`, then closes. */
const serving = <A>(app: Hono, use: (port: number) => Promise<A>) =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const port = yield* serveHttp(app, { host: "127.0.0.1", port: 0 })
        return yield* Effect.promise(() => use(port))
      }),
    ),
  )

describe("serveHttp's exchanges (the lean fetch classes on node:http)", () => {
  it("writes status, headers (each set-cookie) and the length of text and byte bodies", async () => {
    const app = new Hono()
      .get("/text", (c) => {
        c.header("set-cookie", "a=1", { append: true })
        c.header("set-cookie", "b=2", { append: true })
        return c.text("héllo", 201, { "x-extra": "yes" })
      })
      .get("/bytes", (c) => c.body(new Uint8Array([1, 2, 3]), 200))
      .get("/empty", (c) => c.body(null, 204))
    await serving(app, async (port) => {
      const text = await send(port, { path: "/text" })
      expect(text).toMatchObject({ status: 201, body: "héllo" })
      expect(text.headers).toMatchObject({
        "content-length": "6",
        "content-type": "text/plain; charset=UTF-8",
        "x-extra": "yes",
        "set-cookie": ["a=1", "b=2"],
      })
      const bytes = await send(port, { path: "/bytes" })
      expect([bytes.status, bytes.headers["content-length"], bytes.body]).toEqual([
        200,
        "3",
        "\u0001\u0002\u0003",
      ])
      const empty = await send(port, { path: "/empty" })
      expect([empty.status, empty.body]).toEqual([204, ""])
      const head = await send(port, { method: "HEAD", path: "/text" })
      expect([head.status, head.body, head.headers["x-extra"]]).toEqual([201, "", "yes"])
    })
  })

  it("reads bodies sent with a length or chunked, within bodyLimit, and refuses larger ones", async () => {
    const app = new Hono()
      .post(
        "/echo",
        bodyLimit({ maxSize: 16, onError: (c) => c.text("too large", 413) }),
        async (c) =>
          c.json({ got: await c.req.text(), type: c.req.header("content-type") ?? null }),
      )
      .put("/json", async (c) => c.json(await c.req.json()))
    await serving(app, async (port) => {
      const sized = await send(port, {
        method: "POST",
        path: "/echo",
        headers: { "content-length": "5", "content-type": "text/yaml" },
        chunks: ["a: 1\n"],
      })
      expect([sized.status, JSON.parse(sized.body)]).toEqual([
        200,
        { got: "a: 1\n", type: "text/yaml" },
      ])
      const chunked = await send(port, { method: "POST", path: "/echo", chunks: ["abc", "def"] })
      expect([chunked.status, JSON.parse(chunked.body)]).toEqual([
        200,
        { got: "abcdef", type: null },
      ])
      const tooLong = await send(port, {
        method: "POST",
        path: "/echo",
        chunks: ["0123456789", "0123456789"],
      })
      expect([tooLong.status, tooLong.body]).toEqual([413, "too large"])
      const declared = await send(port, {
        method: "POST",
        path: "/echo",
        headers: { "content-length": "17" },
        chunks: ["01234567890123456"],
      })
      expect(declared.status).toBe(413)
      const json = await send(port, { method: "PUT", path: "/json", chunks: ['{"a":', "[1]}"] })
      expect(JSON.parse(json.body)).toEqual({ a: [1] })
    })
  })

  it("reads and drops a body refused on its declared length, so the client reads the answer", async () => {
    // Closing a socket with unread data resets it: a client still writing its body got EPIPE
    // (fetch: "fetch failed") instead of the 413, depending on which came first.
    const app = new Hono().post(
      "/",
      bodyLimit({ maxSize: 1024, onError: (c) => c.text("too large", 413) }),
      (c) => c.text("taken"),
    )
    const body = "x".repeat(2 * 1024 * 1024)
    await serving(app, async (port) => {
      for (let i = 0; i < 20; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body })
        expect([response.status, await response.text()]).toEqual([413, "too large"])
      }
      // The connection stays open for the next request: the body was read to its end.
      const refused = await send(port, {
        method: "POST",
        path: "/",
        headers: { "content-length": String(body.length), connection: "keep-alive" },
        chunks: [body],
      })
      expect([refused.status, refused.headers.connection]).toEqual([413, "keep-alive"])
    })
  })

  it("closes the connection after answering a request whose body is still arriving unread", async () => {
    const app = new Hono().post("/", (c) => c.text("refused", 401))
    await serving(app, async (port) => {
      const socket = connect(port, "127.0.0.1")
      let received = ""
      socket.setEncoding("utf8")
      socket.on("data", (chunk: string) => (received += chunk))
      const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
      // A declared megabyte of which only a few bytes come.
      socket.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\nabc")
      await closed
      expect(received).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/)
      expect(received.toLowerCase()).toContain("connection: close")
    })
  })

  it("streams a body as it comes and cancels it when the client goes away", async () => {
    let cancelled: () => void = () => {}
    const cancel = new Promise<void>((resolve) => (cancelled = resolve))
    const app = new Hono().get(
      "/follow",
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start: (controller) => controller.enqueue(new TextEncoder().encode("first line\n")),
            cancel: () => cancelled(),
          }),
          { headers: { "content-type": "text/plain" } },
        ),
    )
    await serving(app, async (port) => {
      const first = await new Promise<string>((resolve, reject) => {
        const request = httpRequest(
          { host: "127.0.0.1", port, path: "/follow", agent: false },
          (response) => {
            expect(response.headers["transfer-encoding"]).toBe("chunked")
            response.setEncoding("utf8")
            response.once("data", (chunk: string) => {
              resolve(chunk)
              request.destroy()
            })
          },
        )
        request.on("error", reject)
        request.end()
      })
      expect(first).toBe("first line\n")
      await cancel
    })
  })

  it("answers 500 when the handler fails and 400 for a request that cannot be one", async () => {
    const failing = {
      fetch: (request: Request): Response => {
        if (request.url.endsWith("/throw")) throw new Error("boom")
        return "not a response" as unknown as Response
      },
    }
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const port = yield* serveHttp(failing, { host: "127.0.0.1", port: 0 })
          const thrown = yield* Effect.promise(() => send(port, { path: "/throw" }))
          const wrong = yield* Effect.promise(() => send(port, { path: "/wrong" }))
          const badHost = yield* Effect.promise(() =>
            send(port, { path: "/", headers: { host: "bad host/" } }),
          )
          expect([thrown.status, wrong.status, badHost.status]).toEqual([500, 500, 400])
        }),
      ),
    )
  })

  it("hands hono the lean classes as the process's Request, Response and Headers", async () => {
    const app = new Hono().get("/", (c) =>
      c.json({
        request: c.req.raw instanceof LeanFetch.Request,
        response: c.json(null) instanceof LeanFetch.Response,
      }),
    )
    await serving(app, async (port) => {
      expect(JSON.parse((await send(port, { path: "/" })).body)).toEqual({
        request: true,
        response: true,
      })
      expect(globalThis.Headers).toBe(LeanFetch.Headers)
    })
  })
})
