/**
 * The agent never loads Node's bundled undici (nor http2): it costs about 17.5 MiB of RSS (7.5
 * private) the first time anything touches the fetch globals or ES-imports node:http. Checked on
 * bundles, as the agent runs: its modules evaluated, and its HTTP API serving real requests. Nor
 * does it collate by locale: the first `localeCompare` maps ICU's collation data, 1.5–3 MiB of
 * RSS kept for the process's life (libp2p's peer store is patched for it, see patches/).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"
import { afterAll, describe, expect, it } from "vitest"
import { compactPrefixList } from "../../prefixList"
import { OPERATOR, POD } from "../support/apiFixtures"

const HERE = dirname(fileURLToPath(import.meta.url))
const dir = mkdtempSync(join(tmpdir(), "beemesh-agent-undici-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// Which of Node's own modules the process loaded, written to stderr as it exits.
const REPORT_LOADED = `data:text/javascript,process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify(process.moduleLoadList) + "\\n"))`
const UNWANTED = /undici|http2/

const loadedOf = (stderr: string): ReadonlyArray<string> => {
  const line = stderr.split("\n").find((l) => l.startsWith("LOADED "))
  expect(line, stderr).toBeDefined()
  return JSON.parse(line!.slice("LOADED ".length))
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))

// As build.ts bundles it.
const agentBundle = bundleApp({
  entry: join(HERE, "../../src/main.ts"),
  outfile: join(dir, "agent-main.mjs"),
  plugins: [compactPrefixList],
  minify: true,
  mangle: true,
})

describe("the agent without undici", () => {
  it("evaluates every module of its bundle without loading undici or http2", async () => {
    const bundle = await agentBundle
    // An unknown option: the agent exits 2 once every module is evaluated, before any I/O.
    const run = spawnSync(process.execPath, ["--import", REPORT_LOADED, bundle, "--no-such"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
      timeout: 30_000,
    })
    expect(run.status, run.stderr).toBe(2)
    const loaded = loadedOf(run.stderr)
    expect(loaded).toContain("NativeModule http")
    expect(loaded.filter((m) => UNWANTED.test(m))).toEqual([])
  }, 60_000)

  it("has no code that collates by locale (ICU's collation data)", async () => {
    expect(readFileSync(await agentBundle, "utf8")).not.toMatch(/localeCompare|Intl\.Collator/)
  }, 60_000)

  it("serves its API (bodies, limits, errors, streamed logs) without loading undici or http2", async () => {
    const bundle = await bundleApp({
      entry: join(HERE, "fixtures/apiServer.ts"),
      outfile: join(dir, "api-server.mjs"),
    })
    const child = spawn(process.execPath, ["--import", REPORT_LOADED, bundle], {
      env: { PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    })
    const done = exited(child)
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = ""
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
          out += chunk
          const match = /PORT (\d+)/.exec(out)
          if (match !== null) resolve(Number(match[1]))
        })
        child.once("exit", () => reject(new Error(`the API fixture exited: ${stderr}`)))
      })
      const url = `http://127.0.0.1:${port}`
      const operator = { authorization: `Bearer ${OPERATOR}` }
      const call = async (path: string, init: RequestInit = {}) => {
        const response = await fetch(`${url}${path}`, init)
        return { status: response.status, text: await response.text() }
      }
      expect(await call("/health")).toEqual({
        status: 200,
        text: '{"ok":true,"peerId":"12D3KooWself"}',
      })
      expect((await call("/ui")).status).toBe(200)
      expect((await call("/v1/workloads")).status).toBe(401)
      expect((await call("/v1/workloads", { headers: operator })).status).toBe(200)
      const manifest = `apiVersion: v1\nkind: Pod\nmetadata: {name: orders, namespace: shop}\nspec:\n  containers: [{name: app, image: localhost/x}]\n`
      expect(
        (await call("/v1/workloads", { method: "POST", headers: operator, body: manifest })).status,
      ).toBe(201)
      // Chunked (a stream with no length): read through hono's bodyLimit.
      const chunked = await call("/v1/workloads", {
        method: "POST",
        headers: operator,
        body: new Blob([manifest]).stream(),
        duplex: "half",
      } as RequestInit)
      expect(chunked.status).toBe(201)
      const large = await call("/v1/workloads", {
        method: "POST",
        headers: operator,
        body: "x".repeat(1024 * 1024 + 1),
      })
      expect(large.status).toBe(413)
      expect((await call("/v1/pods/p/services", { method: "PUT", body: "{}" })).status).toBe(401)
      expect(await call(`/v1/pods/${POD}/logs`, { headers: operator })).toEqual({
        status: 200,
        text: "one\ntwo\n",
      })
      const followed = await fetch(`${url}/v1/pods/${POD}/logs?follow=true`, { headers: operator })
      expect(followed.status).toBe(200)
      expect(await followed.text()).toContain("one\n")
      expect((await call("/nowhere")).status).toBe(404)
    } finally {
      child.kill("SIGTERM")
    }
    expect(await done).toBe(0)
    expect(loadedOf(stderr).filter((m) => UNWANTED.test(m))).toEqual([])
  }, 60_000)
})
