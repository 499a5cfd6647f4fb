/**
 * The lean fetch classes against Node's own (its bundled undici): every case runs on both, so the
 * lean ones do what hono and the agent's routes rely on exactly as Node's do.
 */
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LeanFetch from "./LeanFetch.js"

interface Classes {
  readonly Headers: typeof globalThis.Headers
  readonly Request: typeof globalThis.Request
  readonly Response: typeof globalThis.Response
}

const node: Classes = {
  Headers: globalThis.Headers,
  Request: globalThis.Request,
  Response: globalThis.Response,
}
const lean = LeanFetch as unknown as Classes

const useGlobals = (classes: Classes) => {
  const scope = globalThis as unknown as Record<string, unknown>
  scope.Headers = classes.Headers
  scope.Request = classes.Request
  scope.Response = classes.Response
}

const streamOf = (...chunks: ReadonlyArray<string>) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk))
      controller.close()
    },
  })

const readAll = async (body: { getReader: () => ReadableStreamDefaultReader<Uint8Array> }) => {
  const reader = body.getReader()
  let text = ""
  for (;;) {
    const read = await reader.read()
    if (read.done) return text
    text += new TextDecoder().decode(read.value)
  }
}

describe.each([
  ["Node's (undici)", node],
  ["lean", lean],
] as const)("%s fetch classes", (_, { Headers, Request, Response }) => {
  describe("Headers", () => {
    it("names are case-insensitive; get of a missing one is null", () => {
      const headers = new Headers({ "Content-Type": "text/plain" })
      expect(headers.get("content-type")).toBe("text/plain")
      expect(headers.has("CONTENT-TYPE")).toBe(true)
      headers.set("content-TYPE", "application/json")
      expect(headers.get("Content-Type")).toBe("application/json")
      headers.delete("CONTENT-type")
      expect(headers.has("content-type")).toBe(false)
      expect(headers.get("x-missing")).toBeNull()
    })

    it("append combines values with a comma; values are trimmed", () => {
      const headers = new Headers()
      headers.append("Vary", " Accept ")
      headers.append("vary", "Origin\t")
      expect(headers.get("vary")).toBe("Accept, Origin")
    })

    it("iterates lower-case names in sorted order, set-cookie one value at a time", () => {
      const headers = new Headers([
        ["X-B", "2"],
        ["Set-Cookie", "a=1"],
        ["x-a", "1"],
        ["set-cookie", "b=2"],
      ])
      expect([...headers]).toEqual([
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
        ["x-a", "1"],
        ["x-b", "2"],
      ])
      expect([...headers.entries()]).toEqual([...headers])
      expect([...headers.keys()]).toEqual(["set-cookie", "set-cookie", "x-a", "x-b"])
      expect(headers.getSetCookie()).toEqual(["a=1", "b=2"])
      const seen: Array<string> = []
      headers.forEach((value, name) => {
        seen.push(`${name}=${value}`)
      })
      expect(seen).toEqual(["set-cookie=a=1", "set-cookie=b=2", "x-a=1", "x-b=2"])
    })

    it("copies another Headers", () => {
      const first = new Headers({ a: "1" })
      const copy = new Headers(first)
      copy.set("b", "2")
      expect([...first]).toEqual([["a", "1"]])
      expect([...copy]).toEqual([
        ["a", "1"],
        ["b", "2"],
      ])
    })

    it("refuses a bad name or a value with a line break", () => {
      expect(() => new Headers({ "bad name": "x" })).toThrow(TypeError)
      expect(() => new Headers().set("x", "a\nb")).toThrow(TypeError)
      expect(() => new Headers([["only-name"]] as unknown as Array<[string, string]>)).toThrow(
        TypeError,
      )
    })
  })

  describe("Request", () => {
    it("has the normalized url, the method upper-cased (standard ones), GET by default", () => {
      const request = new Request("http://127.0.0.1:8080/a/../b?x=1")
      expect(request.url).toBe("http://127.0.0.1:8080/b?x=1")
      expect(request.method).toBe("GET")
      expect(new Request("http://h/", { method: "post" }).method).toBe("POST")
      expect(new Request("http://h/", { method: "purge" }).method).toBe("purge")
      expect(() => new Request("/relative")).toThrow(TypeError)
    })

    it("a text body reads as text, JSON or bytes once, and says it is text/plain", async () => {
      const make = () => new Request("http://h/", { method: "POST", body: '{"a":1}' })
      expect(make().headers.get("content-type")).toBe("text/plain;charset=UTF-8")
      expect(await make().json()).toEqual({ a: 1 })
      expect(new Uint8Array(await make().arrayBuffer())).toEqual(
        new TextEncoder().encode('{"a":1}'),
      )
      const request = make()
      expect(request.bodyUsed).toBe(false)
      expect(await request.text()).toBe('{"a":1}')
      expect(request.bodyUsed).toBe(true)
      await expect(request.text()).rejects.toThrow(TypeError)
    })

    it("a byte body keeps the given content type and has none by default", async () => {
      const bytes = new TextEncoder().encode("\uFEFFhé")
      const request = new Request("http://h/", { method: "PUT", body: bytes })
      expect(request.headers.get("content-type")).toBeNull()
      expect(await request.text()).toBe("hé")
      const typed = new Request("http://h/", {
        method: "PUT",
        body: bytes,
        headers: { "content-type": "application/yaml" },
      })
      expect(typed.headers.get("content-type")).toBe("application/yaml")
    })

    it("bad JSON is a SyntaxError", async () => {
      const request = new Request("http://h/", { method: "POST", body: "{nope" })
      await expect(request.json()).rejects.toThrow(SyntaxError)
    })

    it("body is null without one; a GET or HEAD cannot have one", async () => {
      const empty = new Request("http://h/", { method: "POST" })
      expect(empty.body).toBeNull()
      expect(await empty.text()).toBe("")
      expect(() => new Request("http://h/", { method: "GET", body: "x" })).toThrow(TypeError)
      expect(() => new Request("http://h/", { method: "HEAD", body: "x" })).toThrow(TypeError)
    })

    it("the body reads as a stream, which uses it", async () => {
      const request = new Request("http://h/", { method: "POST", body: "streamed" })
      expect(await readAll(request.body!)).toBe("streamed")
      expect(request.bodyUsed).toBe(true)
      const streamed = new Request("http://h/", {
        method: "POST",
        body: streamOf("a", "b", "c"),
        duplex: "half",
      } as RequestInit)
      expect(await streamed.text()).toBe("abc")
    })

    it("a request re-made with a new body keeps url, method and headers (hono's bodyLimit)", async () => {
      const first = new Request("http://h/p?q", {
        method: "POST",
        headers: { authorization: "Bearer t" },
        body: "old",
      })
      const again = new Request(first, { body: new TextEncoder().encode("new") })
      expect([again.url, again.method, again.headers.get("authorization")]).toEqual([
        "http://h/p?q",
        "POST",
        "Bearer t",
      ])
      expect(await again.text()).toBe("new")
      expect(await new Request(new Request("http://h/", { method: "PUT", body: "x" })).text()).toBe(
        "x",
      )
    })
  })

  describe("Response", () => {
    it("is 200, ok and bodiless by default; a null body reads empty, every time", async () => {
      const response = new Response()
      expect([response.status, response.ok, response.statusText, response.body]).toEqual([
        200,
        true,
        "",
        null,
      ])
      expect(await response.text()).toBe("")
      expect(await response.text()).toBe("")
      expect(response.bodyUsed).toBe(false)
    })

    it("a text body is text/plain; bytes carry no content type", async () => {
      const text = new Response("hello", { status: 201, headers: { "x-a": "1" } })
      expect([
        text.status,
        text.ok,
        text.headers.get("content-type"),
        text.headers.get("x-a"),
      ]).toEqual([201, true, "text/plain;charset=UTF-8", "1"])
      expect(await text.text()).toBe("hello")
      const bytes = new Response(new Uint8Array([104, 105]), { status: 404, statusText: "Gone" })
      expect([bytes.ok, bytes.statusText, bytes.headers.get("content-type")]).toEqual([
        false,
        "Gone",
        null,
      ])
      expect(await bytes.text()).toBe("hi")
    })

    it("refuses a status outside 200–599 and a body with 204", () => {
      expect(() => new Response(null, { status: 199 })).toThrow(RangeError)
      expect(() => new Response(null, { status: 600 })).toThrow(RangeError)
      expect(() => new Response("x", { status: 204 })).toThrow(TypeError)
      expect(new Response(null, { status: 204 }).status).toBe(204)
    })

    it("takes another response as its init (hono's HEAD) and its body (hono's re-made answers)", async () => {
      const got = new Response("body", { status: 202, headers: { "x-a": "1" } })
      const head = new Response(null, got)
      expect([head.status, head.headers.get("x-a"), head.body]).toEqual([202, "1", null])
      const moved = new Response(got.body, got)
      expect(await moved.text()).toBe("body")
      expect(moved.headers.get("content-type")).toBe("text/plain;charset=UTF-8")
    })

    it("reads a stream body to its end, once", async () => {
      const response = new Response(streamOf("one ", "two"))
      expect(await response.text()).toBe("one two")
      expect(response.bodyUsed).toBe(true)
      await expect(response.text()).rejects.toThrow(TypeError)
    })

    it("Response.json answers JSON with its content type", async () => {
      const response = Response.json({ a: [1] }, { status: 201 })
      expect([response.status, response.headers.get("content-type")]).toEqual([
        201,
        "application/json",
      ])
      expect(await response.json()).toEqual({ a: [1] })
    })
  })

  describe("hono on these classes", () => {
    beforeAll(() => useGlobals({ Headers, Request, Response }))
    afterAll(() => useGlobals(node))

    const app = new Hono()
      .post(
        "/limited",
        bodyLimit({ maxSize: 8, onError: (c) => c.text("too large", 413) }),
        async (c) => c.json({ got: await c.req.text() }, 201),
      )
      .get("/headers", (c) => {
        c.header("x-one", "1")
        return c.json(c.req.header(), 200, { "x-two": "2" })
      })
      .get("/stream", () => new Response(streamOf("a", "b")))
      .get("/fail", () => {
        throw new Error("boom")
      })
      .notFound((c) => c.json({ error: "NotFound", path: c.req.path }, 404))
      .onError((error, c) => {
        c.header("connection", "close")
        return c.json({ error: error.message }, 500)
      })

    it("reads a body within its limit and refuses a larger one (no content-length: read to the limit)", async () => {
      const small = await app.request("/limited", { method: "POST", body: "12345678" })
      expect([small.status, await small.json()]).toEqual([201, { got: "12345678" }])
      const large = await app.request("/limited", { method: "POST", body: "123456789" })
      expect([large.status, await large.text()]).toEqual([413, "too large"])
      const declared = await app.request("/limited", {
        method: "POST",
        body: "123456789",
        headers: { "content-length": "9" },
      })
      expect(declared.status).toBe(413)
    })

    it("hands the request's headers over and merges the answer's", async () => {
      const response = await app.request("/headers", { headers: { "X-Asked": "yes" } })
      expect(response).toBeInstanceOf(Response)
      expect(await response.json()).toEqual({ "x-asked": "yes" })
      expect([
        response.headers.get("x-one"),
        response.headers.get("x-two"),
        response.headers.get("content-type"),
      ]).toEqual(["1", "2", "application/json"])
    })

    it("answers HEAD from the GET route without a body, a stream, 404 and errors", async () => {
      const head = await app.request("/headers", { method: "HEAD" })
      expect([head.status, head.body, head.headers.get("x-one")]).toEqual([200, null, "1"])
      expect(await (await app.request("/stream")).text()).toBe("ab")
      const missing = await app.request("/nothing")
      expect([missing.status, await missing.json()]).toEqual([
        404,
        { error: "NotFound", path: "/nothing" },
      ])
      const failed = await app.request("/fail")
      expect([failed.status, failed.headers.get("connection"), await failed.json()]).toEqual([
        500,
        "close",
        { error: "boom" },
      ])
    })
  })
})
