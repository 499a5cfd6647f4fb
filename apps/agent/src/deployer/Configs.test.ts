import { readdir, readFile, stat } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { ContainerCreateRequest } from "@beemesh/podman"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ConfigObject } from "../ConfigObjects"
import type { Workload } from "../Manifest"
import { deployment, type FakeHost, makeFakeHost, passUntil, startDeployer } from "./testing"

const SECRET_VALUE = "hunter2-very-secret"
const b64 = (text: string) => Buffer.from(text).toString("base64")

const settings = (greeting: string): ConfigObject => ({
  kind: "ConfigMap",
  namespace: "shop",
  name: "settings",
  data: { greeting: b64(greeting), "log.level": b64("debug") },
})
const credentials: ConfigObject = {
  kind: "Secret",
  namespace: "shop",
  name: "credentials",
  data: { password: b64(SECRET_VALUE) },
}

/** `web` with env from a ConfigMap key and a Secret key, and every ConfigMap key with a prefix. */
const user = (name = "web", optional = false): Workload => {
  const base = deployment(name, 1)
  const [app] = base.containers
  if (app === undefined) throw new Error("deployment() has a container")
  return {
    ...base,
    containers: [
      {
        ...app,
        env: [
          { name: "PLAIN", value: "1" },
          {
            name: "GREETING",
            value: "",
            from: { kind: "ConfigMap", name: "settings", key: "greeting", optional },
          },
          {
            name: "PASSWORD",
            value: "",
            from: { kind: "Secret", name: "credentials", key: "password", optional },
          },
        ],
        envFrom: [{ kind: "ConfigMap", name: "settings", prefix: "CFG_", optional }],
      },
    ],
  }
}

/** The deployer with every app container's create request recorded. */
const recording = (host: FakeHost) =>
  Effect.gen(function* () {
    const created: Array<ContainerCreateRequest> = []
    const deployer = yield* startDeployer(host, (fake) => ({
      ...fake,
      containers: {
        ...fake.containers,
        create: (req) => {
          if (req.labels?.["io.beemesh.role"] !== "sidecar") created.push(req)
          return fake.containers.create(req)
        },
      },
    }))
    return { deployer, created }
  })

const filesOf = async (dir: string): Promise<Array<string>> =>
  (await readdir(dir)).map((name) => join(dir, name))

describe("ConfigMaps and Secrets in the workload manager (fake host)", () => {
  it.effect("env is resolved when a pod is created; the data dir never holds the secret", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, created } = yield* recording(host)
        yield* deployer.manager.apply([user()], [settings("hello"), credentials])
        const env = created.at(-1)?.env ?? {}
        expect(env).toMatchObject({
          PLAIN: "1",
          GREETING: "hello",
          PASSWORD: SECRET_VALUE,
          CFG_greeting: "hello",
          "CFG_log.level": "debug",
        })
        const dir = dirname(host.stateFile)
        for (const file of yield* Effect.promise(() => filesOf(dir))) {
          const bytes = yield* Effect.promise(() => readFile(file))
          expect(bytes.includes(Buffer.from(SECRET_VALUE)), file).toBe(false)
          expect(bytes.includes(Buffer.from(b64(SECRET_VALUE))), file).toBe(false)
        }
        const key = yield* Effect.promise(() => stat(join(dir, "secrets.key")))
        expect(key.mode & 0o777).toBe(0o600)
        expect(key.size).toBe(32)
        expect(yield* deployer.manager.configs()).toEqual([
          {
            kind: "ConfigMap",
            namespace: "shop",
            name: "settings",
            keys: ["greeting", "log.level"],
            usedBy: ["shop/web"],
          },
          {
            kind: "Secret",
            namespace: "shop",
            name: "credentials",
            keys: ["password"],
            usedBy: ["shop/web"],
          },
        ])
      }),
    ),
  )

  it.effect("a restarted agent reads its Secrets back (sealed with its key)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { deployer } = yield* recording(host)
            yield* deployer.manager.apply([user()], [settings("hello"), credentials])
          }),
        )
        const { deployer } = yield* recording(host)
        expect(deployer.configs.objects.get("Secret/shop/credentials")?.data).toEqual(
          credentials.data,
        )
        // The same content hashes the same after the restart: nothing rolls.
        const before = (yield* deployer.manager.get("shop", "web")).revision
        yield* deployer.manager.apply([user()], [settings("hello"), credentials])
        expect((yield* deployer.manager.get("shop", "web")).revision).toBe(before)
      }),
    ),
  )

  it.effect("a missing ConfigMap or Secret refuses the request (naming it), nothing changed", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer } = yield* recording(host)
        const error = yield* Effect.flip(deployer.manager.apply([user()], [settings("hello")]))
        expect(error._tag).toBe("DeployFailed")
        expect(error.message).toContain(
          "env PASSWORD refers to Secret shop/credentials, which does not exist",
        )
        // The request's ConfigMap is not kept either: all or nothing.
        expect(yield* deployer.manager.configs()).toEqual([])
        expect(yield* deployer.manager.list()).toEqual([])
        expect((yield* host.fake.podman.pods.list()).length).toBe(0)
      }),
    ),
  )

  it.effect("optional references to missing objects are skipped", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, created } = yield* recording(host)
        yield* deployer.manager.apply([user("web", true)])
        expect(created.at(-1)?.env).toEqual({ PLAIN: "1" })
      }),
    ),
  )

  it.effect("a changed ConfigMap rolls the workloads that use it, and them only", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer, created } = yield* recording(host)
        const { manager } = deployer
        yield* manager.apply([user(), deployment("other", 1)], [settings("hello"), credentials])
        const web = (yield* manager.get("shop", "web")).revision
        const other = (yield* manager.get("shop", "other")).revision
        yield* manager.apply([], [settings("bonjour")])
        expect((yield* manager.get("shop", "web")).revision).not.toBe(web)
        expect((yield* manager.get("shop", "other")).revision).toBe(other)
        yield* passUntil(deployer, () =>
          manager
            .get("shop", "web")
            .pipe(Effect.map((s) => s.updated === 1 && s.pods.length === 1)),
        )
        expect(created.at(-1)?.env).toMatchObject({ GREETING: "bonjour" })
      }),
    ),
  )

  it.effect("an object in use cannot be deleted; once unused it can", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const host = yield* makeFakeHost
        const { deployer } = yield* recording(host)
        const { manager } = deployer
        yield* manager.apply([user()], [settings("hello"), credentials])
        const inUse = yield* Effect.flip(manager.removeConfig("Secret", "shop", "credentials"))
        expect(inUse.message).toBe(
          "Secret shop/credentials is used by shop/web; delete or change those workloads first",
        )
        yield* manager.remove("shop", "web")
        yield* manager.removeConfig("Secret", "shop", "credentials")
        yield* manager.removeConfig("ConfigMap", "shop", "settings")
        expect(yield* manager.configs()).toEqual([])
        const missing = yield* Effect.flip(manager.removeConfig("Secret", "shop", "credentials"))
        expect(missing._tag).toBe("ConfigNotFound")
        const stored = yield* Effect.promise(() =>
          readFile(join(dirname(host.stateFile), "configs.json"), "utf8"),
        )
        expect(JSON.parse(stored)).toEqual({ version: 1, objects: [] })
      }),
    ),
  )
})
