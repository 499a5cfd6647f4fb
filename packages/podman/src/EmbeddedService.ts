/**
 * `podman system service --time=0 unix://<path>` as a scoped child: started when no service
 * listens, stopped with its whole process group on release, its socket and directory removed.
 * It stops when its parent dies without releasing it (SIGKILL, crash): started detached, it would
 * otherwise keep running with nobody to stop it. util-linux `setpriv --pdeathsig TERM` has the
 * kernel signal the chain when the parent dies, and coreutils `timeout 0` (no time limit) passes
 * that SIGTERM to the whole process group: rootless Podman re-executes itself inside its user
 * namespace as a child that would outlive a signal sent to the first process alone.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { delimiter, isAbsolute, join } from "node:path"
import { Effect, type Scope } from "effect"
import { execa } from "execa"
import { PodmanUnavailable } from "./Errors.js"
import { request } from "./internal/http.js"
import { containerLimits } from "./internal/limits.js"

export interface EmbeddedServiceOptions {
  /** The podman executable (default `podman` on PATH). */
  readonly podmanPath?: string
  /** Where to listen; default `podman.sock` in the service's directory (see `directory`). */
  readonly socketPath?: string
  /**
   * A directory the caller owns (created 0700 when missing) for the service's configuration and
   * socket, reused by the next start: an owner killed with SIGKILL cannot remove what it made, and
   * a fresh temporary directory per start would be left behind each time. Default: a fresh private
   * directory under the system temp dir, removed on release. When the socket's path would pass
   * the 107 bytes a unix socket address holds, the socket alone goes to a temporary directory.
   */
  readonly directory?: string
  /**
   * Configuration of the service. `generated` (default) writes a containers.conf for this service
   * only, with `default_ulimits` no higher than our own hard limits and the OCI runtime below: a
   * pod's infra container takes its rlimits from there, and Podman's built-in defaults (nofile
   * 1048576) make runc fail on hosts with lower hard limits. `system` uses the host's files as is.
   */
  readonly config?: "generated" | "system"
  /** OCI runtime written to the generated config (default `runc`; crun fails on cgroup v1). */
  readonly ociRuntime?: string
  readonly readyTimeoutMs?: number
  /**
   * `--time` of the service: seconds without API activity before it exits by itself (default 0:
   * until released). Release always stops it; a bound only matters if this process is SIGKILLed.
   */
  readonly idleTimeoutSeconds?: number
  /** Extra environment for the service process (added to the inherited one). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * util-linux `setpriv` and coreutils `timeout`, which tie the service's life to this process
   * (defaults `/usr/bin/setpriv`, `/usr/bin/timeout`). When either is missing the service starts
   * without that guard.
   */
  readonly setprivPath?: string
  readonly timeoutPath?: string
}

export interface EmbeddedService {
  readonly socketPath: string
  readonly pid: number
}

/** `sun_path` holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107

const generatedConfig = (runtime: string) => {
  const { nofile, nproc } = containerLimits()
  return [
    "# Written by @beemesh/podman for its embedded Podman service.",
    "[containers]",
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    "[engine]",
    `runtime = "${runtime}"`,
    "",
  ].join("\n")
}

const ping = (socketPath: string) =>
  request(socketPath, { method: "GET", path: "/v4.0.0/libpod/_ping", idleTimeoutMs: 2000 }).pipe(
    Effect.map((r) => r.status === 200),
    Effect.orElseSucceed(() => false),
  )

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The absolute path of `command` (as given when it has a slash, else searched in PATH). */
const resolveExecutable = (command: string): string | undefined =>
  command.includes("/")
    ? executable(command)
      ? command
      : undefined
    : (process.env.PATH ?? "")
        .split(delimiter)
        .filter((dir) => isAbsolute(dir))
        .map((dir) => join(dir, command))
        .find(executable)

/**
 * The command line: podman under `setpriv --pdeathsig TERM -- timeout 0`, so that the kernel stops
 * the service (and everything in its process group) when the process that started it dies.
 * setpriv executes timeout in place (same pid and group); timeout forwards the signal to its group.
 */
const serviceCommand = (
  podman: string,
  args: ReadonlyArray<string>,
  guard: { readonly setpriv: string; readonly timeout: string } | undefined,
): readonly [string, ReadonlyArray<string>] =>
  guard === undefined
    ? [podman, args]
    : [guard.setpriv, ["--pdeathsig", "TERM", "--", guard.timeout, "0", podman, ...args]]

const killGroup = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

/** Starts the service and waits until it answers `_ping`; release stops it and cleans up. */
export const startEmbeddedService = (
  options: EmbeddedServiceOptions = {},
): Effect.Effect<EmbeddedService, PodmanUnavailable, Scope.Scope> => {
  const podman = options.podmanPath ?? "podman"
  const readyTimeoutMs = options.readyTimeoutMs ?? 15_000
  const unavailable = (path: string, reason: string) =>
    new PodmanUnavailable({
      socketsTried: [{ path, source: "embedded service", reason }],
      hint: `could not start '${podman} system service'; check that podman is installed (apt-get install podman) and runs for this user`,
    })

  return Effect.gen(function* () {
    const temporary = () =>
      Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "beemesh-podman-"))),
        (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
      )
    const dir =
      options.directory === undefined
        ? yield* temporary()
        : yield* Effect.sync(() => {
            mkdirSync(options.directory as string, { recursive: true, mode: 0o700 })
            return options.directory as string
          })
    const socketPath =
      options.socketPath ??
      (Buffer.byteLength(join(dir, "podman.sock")) <= MAX_SOCKET_PATH_BYTES
        ? join(dir, "podman.sock")
        : join(yield* temporary(), "podman.sock"))
    const env: Record<string, string> = { ...options.env }
    if ((options.config ?? "generated") === "generated") {
      const confPath = join(dir, "containers.conf")
      yield* Effect.acquireRelease(
        Effect.sync(() => writeFileSync(confPath, generatedConfig(options.ociRuntime ?? "runc"))),
        () => Effect.sync(() => rmSync(confPath, { force: true })),
      )
      env.CONTAINERS_CONF = confPath
    }
    // A socket file left by an owner that was SIGKILLed: Podman would not bind over it. One that
    // answers belongs to a running service, which is not ours to replace.
    if (yield* ping(socketPath)) {
      return yield* Effect.fail(
        unavailable(socketPath, "another Podman service already listens on this socket"),
      )
    }
    yield* Effect.sync(() => rmSync(socketPath, { force: true }))
    const podmanExecutable = resolveExecutable(podman)
    if (podmanExecutable === undefined) {
      return yield* Effect.fail(
        unavailable(socketPath, `spawn ${podman} ENOENT (not found or not executable)`),
      )
    }
    const setpriv = options.setprivPath ?? "/usr/bin/setpriv"
    const timeout = options.timeoutPath ?? "/usr/bin/timeout"
    const [command, args] = serviceCommand(
      podmanExecutable,
      ["system", "service", `--time=${options.idleTimeoutSeconds ?? 0}`, `unix://${socketPath}`],
      executable(setpriv) && executable(timeout) ? { setpriv, timeout } : undefined,
    )
    const stderr: Array<string> = []
    let exited = false
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const proc = execa(command, args, {
          detached: true,
          stdin: "ignore",
          stdout: "ignore",
          stderr: "pipe",
          env,
          reject: false,
        })
        void proc.then(() => {
          exited = true
        })
        proc.stderr?.on("data", (b: Buffer) => {
          stderr.push(b.toString())
          if (stderr.length > 50) stderr.shift()
        })
        return proc
      }),
      (proc) =>
        Effect.gen(function* () {
          if (proc.pid !== undefined && !exited) {
            killGroup(proc.pid, "SIGTERM")
            const exited = yield* Effect.promise(() => proc).pipe(Effect.timeoutOption("5 seconds"))
            if (exited._tag === "None") {
              killGroup(proc.pid, "SIGKILL")
              yield* Effect.promise(() => proc).pipe(Effect.timeoutOption("5 seconds"))
            }
          }
          yield* Effect.sync(() => rmSync(socketPath, { force: true }))
        }),
    )
    const deadline = Date.now() + readyTimeoutMs
    while (true) {
      if (exited || child.pid === undefined) {
        const result = yield* Effect.promise(() => child)
        return yield* Effect.fail(
          unavailable(
            socketPath,
            `the service exited (${result.failed ? result.shortMessage : `code ${result.exitCode}`}): ${stderr.join("").trim().slice(-500)}`,
          ),
        )
      }
      if (yield* ping(socketPath)) return { socketPath, pid: child.pid }
      if (Date.now() > deadline) {
        return yield* Effect.fail(
          unavailable(
            socketPath,
            `no answer within ${readyTimeoutMs} ms: ${stderr.join("").trim().slice(-500)}`,
          ),
        )
      }
      yield* Effect.sleep("50 millis")
    }
  })
}
