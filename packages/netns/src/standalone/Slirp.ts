/**
 * slirp4netns attached to a network namespace, as a scoped resource: started with the options,
 * awaited through its ready fd, port forwards through its API socket; release stops its process
 * group and removes the socket.
 */
import { randomBytes } from "node:crypto"
import { mkdir, rm } from "node:fs/promises"
import type { Readable } from "node:stream"
import { Context, Data, Effect, Layer, type Scope } from "effect"
import { type CommandError, SlirpUnavailable } from "../Errors.js"
import { HostTools, type HostToolsShape } from "../HostTools.js"
import { run } from "../internal/command.js"
import { enterArgv, resolveTarget } from "../internal/namespaceEntry.js"
import { spawnScoped } from "../internal/process.js"
import { releaseOnFailure } from "../internal/scope.js"
import {
  featuresFor,
  MINIMUM_VERSION,
  probeSlirp,
  type SlirpInfo,
  seccompUsable,
  versionAtLeast,
} from "../internal/slirpProbe.js"
import type { NamespaceTarget } from "../NamespaceTarget.js"
import { type SlirpAddresses, slirpAddresses } from "../SlirpAddresses.js"
import { renderSlirpArgs } from "../SlirpArgs.js"
import type { SlirpOptions, SlirpOptionsInvalid } from "../SlirpOptions.js"
import { validateSlirpOptions } from "../SlirpValidation.js"
import {
  type HostForward,
  type HostForwardSpec,
  makeForwardsApi,
  type SlirpApiFailed,
} from "./SlirpForwards.js"

export { SlirpUnavailable } from "../Errors.js"
export type { SlirpInfo } from "../internal/slirpProbe.js"
export * from "./SlirpForwards.js"

/** slirp4netns exited before it signalled readiness. */
export class SlirpStartFailed extends Data.TaggedError("SlirpStartFailed")<{
  readonly command: ReadonlyArray<string>
  readonly exitCode: number | undefined
  readonly stderr: string
}> {
  override get message() {
    return `slirp4netns exited (code ${this.exitCode ?? "signal"}) before it was ready: ${this.stderr.trim() || "(no stderr)"}; command: ${this.command.join(" ")}`
  }
}

/** slirp4netns did not write to its ready fd in time (it is stopped). */
export class SlirpReadyTimeout extends Data.TaggedError("SlirpReadyTimeout")<{
  readonly timeoutMs: number
  readonly target: string
  readonly stderr: string
}> {
  override get message() {
    return `slirp4netns for ${this.target} was not ready within ${this.timeoutMs} ms: ${this.stderr.trim() || "(no stderr)"}`
  }
}

export type SlirpStartError =
  | SlirpOptionsInvalid
  | SlirpUnavailable
  | SlirpStartFailed
  | SlirpReadyTimeout

export interface SlirpStartOptions {
  readonly target: NamespaceTarget
  readonly options: SlirpOptions
  /** Name of the tap device inside the namespace (default tap0). */
  readonly tapName?: string
  /** Where the API socket goes (default: a unique file in HostTools.runtimeDir). */
  readonly apiSocket?: string
  /**
   * `--enable-sandbox` (own mount namespace, capabilities dropped). "auto" (default): when running
   * as root with the feature available. As root it runs inside `unshare --mount --propagation
   * private`: slirp4netns' sandbox makes only `/` private and, on hosts where /run is not a mount
   * point, its pivot_root unmount propagates back and detaches every /run/netns/* mount.
   */
  readonly sandbox?: "auto" | boolean
  /** `--enable-seccomp`. "auto" (default): when slirp4netns was built with libseccomp. */
  readonly seccomp?: "auto" | boolean
  /** Default 10 s. */
  readonly readyTimeoutMs?: number
  /**
   * With IPv6 on, also wait until the guest's SLAAC address is usable (default true), so the
   * handle is ready for IPv6 traffic when returned.
   */
  readonly waitForIpv6?: boolean
}

export interface SlirpHandle {
  readonly pid: number
  readonly apiSocket: string
  readonly tapName: string
  readonly options: SlirpOptions
  readonly addresses: SlirpAddresses
  readonly sandbox: boolean
  readonly seccomp: boolean
  readonly info: SlirpInfo
  readonly addHostForward: (spec: HostForwardSpec) => Effect.Effect<HostForward, SlirpApiFailed>
  readonly listHostForwards: () => Effect.Effect<ReadonlyArray<HostForward>, SlirpApiFailed>
  readonly removeHostForward: (id: number) => Effect.Effect<void, SlirpApiFailed>
  /** A forward removed when the scope closes. */
  readonly hostForward: (
    spec: HostForwardSpec,
  ) => Effect.Effect<HostForward, SlirpApiFailed, Scope.Scope>
}

export interface SlirpShape {
  readonly start: (
    options: SlirpStartOptions,
  ) => Effect.Effect<SlirpHandle, SlirpStartError, Scope.Scope>
  /** Version, libslirp and feature flags of the installed binary (probed once). */
  readonly info: Effect.Effect<SlirpInfo, SlirpUnavailable>
}

const unavailable = (error: CommandError) =>
  new SlirpUnavailable({
    reason: error.message,
    hint:
      error._tag === "CommandNotFound"
        ? error.hint
        : "check that slirp4netns runs: slirp4netns --version",
  })

/** Resolves with the first chunk on the ready fd (slirp4netns writes "1"). */
const readyFd = (fd: Readable) =>
  Effect.callback<void>((resume) => {
    const onData = () => resume(Effect.void)
    fd.once("data", onData)
    return Effect.sync(() => fd.off("data", onData))
  })

export interface SlirpCommand {
  readonly options: SlirpOptions
  readonly netns: string
  readonly userns: string | undefined
  readonly tapName: string
  readonly apiSocket: string
  readonly sandbox: boolean
  readonly seccomp: boolean
  /** Wrap in `unshare --mount --propagation private` (root with sandbox; see `sandbox`). */
  readonly privateMounts: boolean
}

/**
 * The command line that starts slirp4netns: fd 3 is the ready pipe, fd 4 the exit pipe (it exits
 * when our end closes, so it cannot outlive this process).
 */
export const slirpCommand = (
  tools: Pick<HostToolsShape, "slirp4netns" | "unshare">,
  c: SlirpCommand,
): [string, ...Array<string>] => {
  const slirp: [string, ...Array<string>] = [
    tools.slirp4netns,
    "--configure",
    "--ready-fd=3",
    "--exit-fd=4",
    `--api-socket=${c.apiSocket}`,
    ...(c.sandbox ? ["--enable-sandbox"] : []),
    ...(c.seccomp ? ["--enable-seccomp"] : []),
    ...renderSlirpArgs(c.options),
    "--netns-type=path",
    ...(c.userns === undefined ? [] : [`--userns-path=${c.userns}`]),
    c.netns,
    c.tapName,
  ]
  return c.privateMounts
    ? [tools.unshare, "--mount", "--propagation", "private", "--", ...slirp]
    : slirp
}

const make = Effect.gen(function* () {
  const tools = yield* HostTools
  const info = yield* Effect.cached(probeSlirp(tools).pipe(Effect.mapError(unavailable)))
  const isRoot = process.geteuid?.() === 0

  const startIn = Effect.fn("Slirp.start")(function* (config: SlirpStartOptions) {
    const options = yield* validateSlirpOptions(config.options)
    const slirp = yield* info
    if (!versionAtLeast(slirp.version, MINIMUM_VERSION)) {
      return yield* new SlirpUnavailable({
        reason: `version ${slirp.version} is older than ${MINIMUM_VERSION}`,
        hint: "install slirp4netns >= 1.1 (Debian 12: apt-get install slirp4netns)",
      })
    }
    const { netns, userns } = resolveTarget(config.target)
    const missing = featuresFor(options, { userns: userns !== undefined }).filter(
      (f) => !slirp.features.includes(f),
    )
    if (missing.length > 0) {
      return yield* new SlirpUnavailable({
        reason: `slirp4netns ${slirp.version} lacks --${missing.join(", --")}`,
        hint: "install a newer slirp4netns",
      })
    }
    const sandbox =
      config.sandbox === "auto" || config.sandbox === undefined
        ? isRoot && slirp.features.includes("enable-sandbox")
        : config.sandbox
    const seccomp =
      config.seccomp === "auto" || config.seccomp === undefined
        ? seccompUsable(slirp)
        : config.seccomp
    const tapName = config.tapName ?? "tap0"
    const apiSocket =
      config.apiSocket ?? `${tools.runtimeDir}/slirp-${randomBytes(6).toString("hex")}.sock`
    if (config.apiSocket === undefined) {
      yield* Effect.promise(() => mkdir(tools.runtimeDir, { recursive: true, mode: 0o700 }))
    }
    // Registered before the process, so it runs after the process group is gone.
    yield* Effect.addFinalizer(() => Effect.promise(() => rm(apiSocket, { force: true })))

    const argv = slirpCommand(tools, {
      options,
      netns,
      userns,
      tapName,
      apiSocket,
      sandbox,
      seccomp,
      privateMounts: sandbox && isRoot,
    })
    const proc = yield* spawnScoped(tools, argv, { extraFds: 2 }).pipe(
      Effect.mapError((error) =>
        error._tag === "CommandNotFound"
          ? unavailable(error)
          : new SlirpStartFailed({ command: argv, exitCode: undefined, stderr: error.stderr }),
      ),
    )
    const readyTimeoutMs = config.readyTimeoutMs ?? 10_000
    const outcome = yield* Effect.raceFirst(
      readyFd(proc.fds[0]!).pipe(Effect.as("ready" as const)),
      proc.exited,
    ).pipe(Effect.timeoutOption(readyTimeoutMs))
    if (outcome._tag === "None") {
      return yield* new SlirpReadyTimeout({
        timeoutMs: readyTimeoutMs,
        target: netns,
        stderr: proc.stderrText(),
      })
    }
    if (outcome.value !== "ready") {
      return yield* new SlirpStartFailed({
        command: argv,
        exitCode: outcome.value.exitCode,
        stderr: proc.stderrText(),
      })
    }
    if (options.enableIpv6 && config.waitForIpv6 !== false) {
      // SLAAC finishes after slirp4netns' ready signal (router advertisement, then duplicate
      // address detection); until then IPv6 connections fail with EADDRNOTAVAIL/ENETUNREACH.
      const probe = run(
        tools,
        enterArgv(tools, config.target, [
          tools.ip,
          "-6",
          "-o",
          "addr",
          "show",
          "dev",
          tapName,
          "scope",
          "global",
          "-tentative",
        ]),
        { timeoutMs: 5000 },
      ).pipe(
        Effect.map((r) => r.stdout.includes("inet6")),
        Effect.orElseSucceed(() => false),
      )
      const deadline = Date.now() + readyTimeoutMs
      let ready = yield* probe
      while (!ready && Date.now() < deadline) {
        yield* Effect.sleep(50)
        ready = yield* probe
      }
      if (!ready) {
        return yield* new SlirpReadyTimeout({
          timeoutMs: readyTimeoutMs,
          target: `${netns} (IPv6 address on ${tapName})`,
          stderr: proc.stderrText(),
        })
      }
    }
    const addresses = slirpAddresses(options)
    return {
      pid: proc.pid,
      apiSocket,
      tapName,
      options,
      addresses,
      sandbox,
      seccomp,
      info: slirp,
      ...makeForwardsApi(apiSocket, addresses.guest),
    } satisfies SlirpHandle
  })

  const start = (config: SlirpStartOptions) => releaseOnFailure(startIn(config))

  return { start, info } satisfies SlirpShape
})

export class Slirp extends Context.Service<Slirp, SlirpShape>()("@beemesh/netns/Slirp") {
  static readonly layer = Layer.effect(Slirp, make)
}
