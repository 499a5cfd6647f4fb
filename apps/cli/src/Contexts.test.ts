import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it, onTestFinished } from "vitest"
import { type ContextFile, loadContexts, resolveTarget, saveContexts } from "./Contexts"

const file: ContextFile = {
  current: "lab",
  contexts: {
    lab: { server: "http://10.0.0.1:8080", token: "lab-token" },
    home: { server: "http://127.0.0.1:8080", token: "home-token" },
  },
}
const resolve = (
  flags: { context?: string; server?: string; token?: string },
  env: Record<string, string> = {},
  contexts: ContextFile = file,
) =>
  Effect.runPromiseExit(
    resolveTarget({
      flags,
      env,
      file: contexts,
      path: "/c.yaml",
      readDefaultToken: async () => "local-token",
    }),
  )

describe("context file", () => {
  it("the current context gives URL and token, and says where they came from", async () => {
    expect(await resolve({})).toEqual(
      Exit.succeed({
        server: "http://10.0.0.1:8080",
        token: "lab-token",
        serverOrigin: 'context "lab" in /c.yaml',
        tokenOrigin: 'context "lab" in /c.yaml',
      }),
    )
  })

  it("flags win over BEEMESH_* variables, which win over the context", async () => {
    const env = {
      BEEMESH_SERVER: "http://env:1",
      BEEMESH_TOKEN: "env-token",
      BEEMESH_CONTEXT: "home",
    }
    const fromEnv = await resolve({}, env)
    expect(Exit.isSuccess(fromEnv) && fromEnv.value).toMatchObject({
      server: "http://env:1",
      token: "env-token",
    })
    const fromFlags = await resolve({ server: "http://flag:2", token: "flag-token" }, env)
    expect(Exit.isSuccess(fromFlags) && fromFlags.value).toMatchObject({
      server: "http://flag:2",
      token: "flag-token",
      tokenOrigin: "--token",
    })
    const other = await resolve({ context: "home" })
    expect(Exit.isSuccess(other) && other.value.token).toBe("home-token")
  })

  it("no context at all: the local agent and its token file", async () => {
    const exit = await resolve({}, {}, { contexts: {} })
    expect(Exit.isSuccess(exit) && exit.value).toMatchObject({
      server: "http://127.0.0.1:8080",
      token: "local-token",
      tokenOrigin: "/var/lib/beemesh/operator-token",
    })
  })

  it("an unknown context name is an error listing the known ones and how to create it", async () => {
    const exit = await resolve({ context: "prod" })
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
      'no context "prod" (known: lab, home); create it with `beemesh context set prod',
    )
  })

  it("is written with mode 0600 and read back; a missing file is empty", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-cli-"))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, "beemesh", "config.yaml")
    expect(await Effect.runPromise(loadContexts(path))).toEqual({ contexts: {} })
    await Effect.runPromise(saveContexts(path, file))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(await Effect.runPromise(loadContexts(path))).toEqual(file)
    expect(await readFile(path, "utf8")).toContain("current: lab")
  })

  it("a file of the wrong shape says what shape is expected", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-cli-"))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, "config.yaml")
    await writeFile(path, "contexts: { lab: { server: 1 } }\n")
    const exit = await Effect.runPromiseExit(loadContexts(path))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
      "expected current: NAME and contexts",
    )
  })
})
