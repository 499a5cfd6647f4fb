/**
 * Finding the Podman service: PodmanUnavailable names every socket tried; the embedded service
 * starts when asked, answers, and is gone (process group and socket) after release.
 */
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { execa, execaSync } from "execa"
import { makePodmanClient, startEmbeddedService } from "../../src/index.js"
import { uniqueName } from "../support/pods.js"
import { requirePrerequisites } from "../support/prerequisites.js"

describe("Podman service discovery", () => {
  it.live(
    "without a listening service and without the embedded one: PodmanUnavailable naming each socket",
    () =>
      Effect.gen(function* () {
        const socketPath = `/tmp/${uniqueName("no-podman")}.sock`
        const fromEnv = `/tmp/${uniqueName("no-podman-env")}.sock`
        const error = yield* Effect.flip(
          Effect.scoped(
            makePodmanClient({
              socketPath,
              containerHost: `unix://${fromEnv}`,
              embedded: "never",
              searchDefaults: false,
            }),
          ),
        )
        expect(error._tag).toBe("PodmanUnavailable")
        expect(error.socketsTried.map((s) => [s.path, s.source])).toEqual([
          [socketPath, "option"],
          [fromEnv, "CONTAINER_HOST"],
        ])
        expect(error.message).toContain(socketPath)
        expect(error.message).toContain("ENOENT")
      }),
  )

  it.live("a CONTAINER_HOST that is not a unix socket is named as tried and unsupported", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(
          makePodmanClient({
            containerHost: "tcp://127.0.0.1:1",
            embedded: "never",
            searchDefaults: false,
          }),
        ),
      )
      expect(error.socketsTried).toEqual([
        {
          path: "tcp://127.0.0.1:1",
          source: "CONTAINER_HOST",
          reason: "unsupported scheme (only unix:// sockets)",
        },
      ])
    }),
  )

  it.live(
    "a podman that cannot start: PodmanUnavailable naming the sockets tried and the embedded service",
    () =>
      Effect.gen(function* () {
        const socketPath = `/tmp/${uniqueName("no-podman")}.sock`
        const podmanPath = `/nonexistent/${uniqueName("podman")}`
        const error = yield* Effect.flip(
          Effect.scoped(
            makePodmanClient({
              socketPath,
              searchDefaults: false,
              embeddedOptions: { podmanPath, readyTimeoutMs: 5000 },
            }),
          ),
        )
        expect(error._tag).toBe("PodmanUnavailable")
        expect(error.socketsTried.map((s) => s.source)).toEqual(["option", "embedded service"])
        expect(error.message).toContain(`${podmanPath} system service`)
        expect(error.message).toContain("ENOENT")
      }),
  )

  it.live("the embedded service starts when asked, answers, and is gone after release", () =>
    Effect.gen(function* () {
      requirePrerequisites()
      const scope = yield* Scope.make()
      const client = yield* makePodmanClient({ embedded: "always" }).pipe(Scope.provide(scope))
      expect(client.embedded).toBe(true)
      yield* client.system.ping()
      const info = yield* client.system.info()
      expect(info.host.ociRuntime.name).toBe("runc")
      expect(existsSync(client.socketPath)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(existsSync(client.socketPath)).toBe(false)
      const after = yield* Effect.flip(client.system.ping())
      expect(after._tag).toBe("PodmanUnavailable")
    }),
  )

  it.live("the embedded service's process group is killed on release", () =>
    Effect.gen(function* () {
      requirePrerequisites()
      const scope = yield* Scope.make()
      const service = yield* startEmbeddedService({}).pipe(Scope.provide(scope))
      expect(existsSync(`/proc/${service.pid}`)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      // After release the child has been waited for: its pid is gone (or reused by an unrelated process).
      const cmdline = existsSync(`/proc/${service.pid}/cmdline`)
        ? yield* Effect.promise(() =>
            import("node:fs/promises").then((fs) =>
              fs.readFile(`/proc/${service.pid}/cmdline`, "utf8"),
            ),
          )
        : ""
      expect(cmdline).not.toContain(service.socketPath)
      expect(existsSync(service.socketPath)).toBe(false)
    }),
  )

  it.live("an owner killed with SIGKILL does not leave its embedded service running", () =>
    Effect.gen(function* () {
      requirePrerequisites()
      yield* ownerKilledLeavesNoService([], {})
    }),
  )

  it.live(
    "with a directory: a SIGKILLed owner leaves only that directory, and the next start reuses it",
    () =>
      Effect.gen(function* () {
        requirePrerequisites()
        const directory = join(mkdtempSync(join(tmpdir(), "beemesh-test-svcdir-")), "service")
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dirname(directory), { recursive: true, force: true })),
        )
        const temporaryBefore = serviceTemporaryDirs()
        const killed = yield* ownerKilledLeavesNoService([], {
          BEEMESH_TEST_SERVICE_DIR: directory,
        })
        expect(dirname(killed.socketPath)).toBe(directory)
        expect(serviceTemporaryDirs()).toEqual(temporaryBefore)
        // The service removes its socket when the parent-death signal stops it; a stale file left by
        // a harder end (the service SIGKILLed too) must not stop the next start from binding.
        writeFileSync(killed.socketPath, "")
        const scope = yield* Scope.make()
        const again = yield* startEmbeddedService({ directory }).pipe(Scope.provide(scope))
        expect(again.socketPath).toBe(killed.socketPath)
        yield* Scope.close(scope, Exit.void)
        expect(readdirSync(directory)).toEqual([])
        expect(serviceTemporaryDirs()).toEqual(temporaryBefore)
      }),
  )

  it.live(
    "a socket that answers is not replaced: PodmanUnavailable says another service listens",
    () =>
      Effect.gen(function* () {
        requirePrerequisites()
        const directory = mkdtempSync(join(tmpdir(), "beemesh-test-svcdir-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(directory, { recursive: true, force: true })),
        )
        yield* startEmbeddedService({ directory })
        const error = yield* Effect.flip(startEmbeddedService({ directory }))
        expect(error._tag).toBe("PodmanUnavailable")
        expect(error.message).toContain("another Podman service already listens")
      }),
  )

  it.live(
    "rootless: an owner killed with SIGKILL leaves no service behind (nor the copy Podman re-executes in its user namespace)",
    () =>
      Effect.gen(function* () {
        requirePrerequisites()
        const user = rootlessUser()
        const runtimeDir = mkdtempSync(join(tmpdir(), "beemesh-podman-pdeath-"))
        chownSync(runtimeDir, user.uid, user.gid)
        // A home of its own too: rootless Podman records its first runtime directory in the
        // user's database (under $HOME) and every later Podman of that user, in other tests,
        // would recreate this temporary one.
        const homeDir = mkdtempSync(join(tmpdir(), "beemesh-podman-pdeath-home-"))
        chownSync(homeDir, user.uid, user.gid)
        // Rootless Podman keeps a pause process (catatonit -P) holding its user namespace. Without
        // one, Podman creates it and re-executes itself inside as a second process: the case to test.
        const stopPauseProcess = () =>
          execaSync("pkill", ["-u", String(user.uid), "-f", "^catatonit -P"], { reject: false })
        stopPauseProcess()
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            stopPauseProcess()
            rmSync(runtimeDir, { recursive: true, force: true })
            rmSync(homeDir, { recursive: true, force: true })
          }),
        )
        yield* ownerKilledLeavesNoService(
          ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--"],
          { HOME: homeDir, XDG_RUNTIME_DIR: runtimeDir },
          user,
        )
      }),
  )
})

const ROOTLESS_USER = "beemesh-test"

const rootlessUser = () => {
  const id = (flag: string) => execaSync("id", [flag, ROOTLESS_USER], { reject: false })
  const uid = id("-u")
  if (uid.exitCode !== 0)
    throw new Error(`user ${ROOTLESS_USER} is missing: run tooling/scripts/host-setup.sh as root`)
  return { uid: Number(uid.stdout), gid: Number(id("-g").stdout) }
}

/**
 * Starts the owner fixture (as another user when `asUser` is given), SIGKILLs it once its service
 * answers, and waits until no process serves that socket any more.
 */
const ownerKilledLeavesNoService = (
  asUser: ReadonlyArray<string>,
  env: Readonly<Record<string, string>>,
  user?: { readonly uid: number; readonly gid: number },
) =>
  Effect.gen(function* () {
    // The service's files go to a directory this test removes: a killed owner cannot remove the
    // temporary one it would otherwise make.
    if (env.BEEMESH_TEST_SERVICE_DIR === undefined) {
      const base = mkdtempSync(join(tmpdir(), "beemesh-test-svcdir-"))
      if (user !== undefined) chownSync(base, user.uid, user.gid)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(base, { recursive: true, force: true })),
      )
      env = { ...env, BEEMESH_TEST_SERVICE_DIR: join(base, "service") }
    }
    const packageDir = fileURLToPath(new URL("../..", import.meta.url))
    const command = [
      ...asUser,
      process.execPath,
      "--import",
      "tsx",
      "test/fixtures/embedded-owner.ts",
    ]
    const owner = execa(command[0]!, command.slice(1), {
      cwd: packageDir,
      env: { ...env },
      reject: false,
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => owner.kill("SIGKILL")))
    const line = yield* Effect.callback<string, Error>((resume) => {
      let out = ""
      const timer = setTimeout(
        () => resume(Effect.fail(new Error(`the owner printed no service line in 30 s: ${out}`))),
        30_000,
      )
      owner.stdout?.on("data", (d: Buffer) => {
        out += d.toString()
        if (out.includes("\n")) {
          clearTimeout(timer)
          resume(Effect.succeed(out.trim()))
        }
      })
      return Effect.sync(() => clearTimeout(timer))
    })
    const service = JSON.parse(line) as { pid: number; socketPath: string }
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // Only if the guard failed: stop the service ourselves so the machine stays clean.
        for (const pid of processesServing(service.socketPath)) process.kill(pid, "SIGKILL")
        rmSync(service.socketPath, { force: true })
      }),
    )
    expect(processesServing(service.socketPath)).toContain(service.pid)
    owner.kill("SIGKILL")
    yield* Effect.promise(() => owner)
    const deadline = Date.now() + 10_000
    while (processesServing(service.socketPath).length > 0) {
      if (Date.now() > deadline)
        throw new Error(
          `podman system service (pids ${processesServing(service.socketPath).join(", ")}) outlived its owner by 10 s`,
        )
      yield* Effect.sleep(50)
    }
    return service
  })

/** The default (temporary) service directories in the system temp dir. */
const serviceTemporaryDirs = () =>
  readdirSync(tmpdir())
    .filter((entry) => /^beemesh-podman-[A-Za-z0-9]{6}$/.test(entry))
    .sort()

/** Live (not zombie) processes whose command line names the socket: the service and its copies. */
const processesServing = (socketPath: string): Array<number> =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8")
        const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0]
        return cmdline.includes(socketPath) && cmdline.includes("system") && state !== "Z"
      } catch {
        return false
      }
    })
    .map(Number)
