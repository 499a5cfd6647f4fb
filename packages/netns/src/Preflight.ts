/**
 * Host network validation: is everything a pod network needs
 * present and usable? A structured report for the agent's health endpoint, and `ensure` to stop
 * start-up with the first failure. Every failure is a typed error carrying a fix hint.
 */
import { constants } from "node:fs"
import { open, readFile, stat } from "node:fs/promises"
import { Context, Effect, Layer } from "effect"
import { type CommandError, SlirpUnavailable } from "./Errors.js"
import { HostTools } from "./HostTools.js"
import { notExecutable, notFound, run } from "./internal/command.js"
import {
  featuresFor,
  MINIMUM_VERSION,
  probeSlirp,
  type SlirpInfo,
  seccompUsable,
  versionAtLeast,
} from "./internal/slirpProbe.js"
import { subordinateRanges } from "./internal/subordinateIds.js"
import {
  NetnsUnsupported,
  NftUnavailable,
  type PreflightError,
  SubordinateIdsMissing,
  TunUnusable,
  UserNamespacesUnavailable,
} from "./PreflightErrors.js"
import { defaultSlirpOptions, type SlirpOptions } from "./SlirpOptions.js"
import { validateSlirpOptions } from "./SlirpValidation.js"

export type PreflightCheckName =
  | "options"
  | "slirp4netns"
  | "tun"
  | "netns"
  | "nftables"
  | "userns"
  | "subids"

export interface PreflightCheck {
  readonly name: PreflightCheckName
  readonly ok: boolean
  readonly detail: string
  readonly error?: PreflightError
}

export interface PreflightReport {
  readonly ok: boolean
  readonly checks: ReadonlyArray<PreflightCheck>
  readonly slirp4netns?: SlirpInfo & { readonly seccomp: boolean }
}

export interface RootlessCheck {
  /** The user who will run slirp4netns and the pods. */
  readonly user: string
  readonly uid: number
  /** Smallest acceptable subordinate range (default 65536, what Podman wants). */
  readonly minimumRange?: number
}

export interface PreflightOptions {
  /** The options the pods will use (default: `defaultSlirpOptions`); their features are checked. */
  readonly slirpOptions?: SlirpOptions
  /** Default /dev/net/tun. */
  readonly tunDevice?: string
  /** Also check what rootless use needs, for this user. */
  readonly rootless?: RootlessCheck
  /** Default /etc/subuid and /etc/subgid. */
  readonly subuidFile?: string
  readonly subgidFile?: string
  /** Default /proc/sys/user/max_user_namespaces. */
  readonly maxUserNamespacesFile?: string
}

export interface PreflightShape {
  /** Runs every check; never fails. */
  readonly check: (options?: PreflightOptions) => Effect.Effect<PreflightReport>
  /** Runs every check; fails with the first failure's typed error. */
  readonly ensure: (options?: PreflightOptions) => Effect.Effect<PreflightReport, PreflightError>
}

/** The report as plain JSON (for an HTTP health endpoint). */
export const preflightReportJson = (report: PreflightReport) => ({
  ok: report.ok,
  slirp4netns: report.slirp4netns,
  checks: report.checks.map((c) => ({
    name: c.name,
    ok: c.ok,
    detail: c.detail,
    ...(c.error === undefined
      ? {}
      : {
          error: {
            tag: c.error._tag,
            message: c.error.message,
            ...("hint" in c.error ? { hint: c.error.hint } : {}),
          },
        }),
  })),
})

// --- pure parts -------------------------------------------------------------------------------

const TUN_MAJOR = 10
const TUN_MINOR = 200
const majorOf = (rdev: number) => (rdev >> 8) & 0xfff
const minorOf = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00)

/** A ruleset like the egress policy's (inet table, UID match), loaded in a throwaway namespace. */
const NFT_PROBE = `table inet beemesh_preflight {
  chain output {
    type filter hook output priority filter; policy accept;
    meta skuid 1337 accept
  }
}
`

// --- service ----------------------------------------------------------------------------------

const make = Effect.gen(function* () {
  const tools = yield* HostTools
  const isRoot = process.geteuid?.() === 0
  // Rootful: a plain new namespace; rootless: inside a new user namespace, as Podman does.
  const unshareNet: [string, ...Array<string>] = isRoot
    ? [tools.unshare, "--net", "--"]
    : [tools.unshare, "--user", "--map-root-user", "--net", "--"]

  const checkOptions = (options: SlirpOptions) =>
    validateSlirpOptions(options).pipe(Effect.as("options valid"))

  const checkSlirp = (options: SlirpOptions, rootless: boolean) =>
    probeSlirp(tools).pipe(
      Effect.mapError(
        (error: CommandError) =>
          new SlirpUnavailable({
            reason: error.message,
            hint: error._tag === "CommandNotFound" ? error.hint : "check `slirp4netns --version`",
          }),
      ),
      Effect.flatMap((info) => {
        if (!versionAtLeast(info.version, MINIMUM_VERSION)) {
          return Effect.fail(
            new SlirpUnavailable({
              reason: `version ${info.version} is older than ${MINIMUM_VERSION}`,
              hint: "apt-get install slirp4netns (Debian 12 ships 1.2.0)",
            }),
          )
        }
        const missing = featuresFor(options, { userns: rootless }).filter(
          (f) => !info.features.includes(f),
        )
        if (missing.length > 0) {
          return Effect.fail(
            new SlirpUnavailable({
              reason: `slirp4netns ${info.version} lacks --${missing.join(", --")}`,
              hint: "install a newer slirp4netns",
            }),
          )
        }
        return Effect.succeed(info)
      }),
    )

  const checkTun = (path: string, rootless: RootlessCheck | undefined) =>
    Effect.gen(function* () {
      const fail = (reason: string, hint: string) =>
        Effect.fail(new TunUnusable({ path, reason, hint }))
      const st = yield* Effect.tryPromise(() => stat(path)).pipe(Effect.option)
      if (st._tag === "None") {
        return yield* fail(
          "missing",
          `modprobe tun, or: mkdir -p /dev/net && mknod -m 0666 ${path} c 10 200 (tooling/scripts/host-setup.sh)`,
        )
      }
      if (!st.value.isCharacterDevice()) {
        return yield* fail("not a character device", `recreate it: mknod -m 0666 ${path} c 10 200`)
      }
      const major = majorOf(st.value.rdev)
      const minor = minorOf(st.value.rdev)
      if (major !== TUN_MAJOR || minor !== TUN_MINOR) {
        return yield* fail(
          `device ${major}:${minor} is not the tun device (10:200)`,
          `recreate it: mknod -m 0666 ${path} c 10 200`,
        )
      }
      const opened = yield* Effect.tryPromise(() => open(path, constants.O_RDWR)).pipe(
        Effect.flatMap((fd) => Effect.promise(() => fd.close())),
        Effect.result,
      )
      if (opened._tag === "Failure") {
        return yield* fail(
          `cannot open read-write: ${String((opened.failure as { cause?: unknown }).cause ?? opened.failure)}`,
          `chmod 0666 ${path} (tooling/scripts/host-setup.sh does it)`,
        )
      }
      const mode = st.value.mode & 0o777
      if (rootless !== undefined) {
        const usable =
          (st.value.uid === rootless.uid && (mode & 0o600) === 0o600) || (mode & 0o006) === 0o006
        if (!usable) {
          return yield* fail(
            `mode ${mode.toString(8).padStart(4, "0")} does not let ${rootless.user} read and write it`,
            `chmod 0666 ${path} (tooling/scripts/host-setup.sh does it)`,
          )
        }
      }
      return `character device 10:200, mode ${mode.toString(8).padStart(4, "0")}, opened read-write`
    })

  const checkNetns = run(tools, [...unshareNet, "true"], {
    timeoutMs: 10_000,
  }).pipe(
    Effect.as(`created a network namespace (${unshareNet.slice(1, -1).join(" ")})`),
    Effect.mapError(
      (error) =>
        new NetnsUnsupported({
          reason: error.message,
          hint:
            error._tag === "CommandNotFound"
              ? error.hint
              : isRoot
                ? "the kernel needs CONFIG_NET_NS; inside a container, run it privileged"
                : "enable unprivileged user namespaces (sysctl user.max_user_namespaces=15000)",
        }),
    ),
  )

  const checkNft = run(tools, [...unshareNet, tools.nft, "-f", "-"], {
    input: NFT_PROBE,
    timeoutMs: 10_000,
  }).pipe(
    Effect.as("loaded an inet table with a skuid match in a throwaway namespace"),
    Effect.mapError((error) => {
      // unshare is found but cannot start nft: the program is missing from PATH, not the kernel's.
      const missing =
        error._tag === "CommandFailed" ? notExecutable(error.stderr, tools.nft) : undefined
      if (missing !== undefined) {
        const found = notFound(tools, missing)
        return new NftUnavailable({
          reason: `${missing} is not on PATH ${found.searchPath}`,
          hint: `${found.hint}; or give its directory (usually /usr/sbin) in PATH or HostTools.nft`,
        })
      }
      return new NftUnavailable({
        reason: error.message,
        hint:
          error._tag === "CommandNotFound"
            ? error.hint
            : "the kernel needs nf_tables with the inet family (modprobe nf_tables)",
      })
    }),
  )

  const checkUserns = (options: PreflightOptions) =>
    Effect.gen(function* () {
      const file = options.maxUserNamespacesFile ?? "/proc/sys/user/max_user_namespaces"
      const max = yield* Effect.tryPromise(() => readFile(file, "utf8")).pipe(
        Effect.map((t) => Number(t.trim())),
        Effect.orElseSucceed(() => 0),
      )
      if (!(max > 0)) {
        return yield* new UserNamespacesUnavailable({
          reason: `${file} is ${max}`,
          hint: "sysctl -w user.max_user_namespaces=15000",
        })
      }
      for (const helper of ["newuidmap", "newgidmap"]) {
        // Without arguments they print usage and exit 1: present. ENOENT: missing.
        const r = yield* run(tools, [helper], { timeoutMs: 5000 }).pipe(Effect.result)
        if (r._tag === "Failure" && r.failure._tag === "CommandNotFound") {
          return yield* new UserNamespacesUnavailable({
            reason: `${helper} not found`,
            hint: "apt-get install uidmap (tooling/scripts/host-setup.sh)",
          })
        }
      }
      return `max_user_namespaces=${max}, newuidmap and newgidmap present`
    })

  const checkSubids = (options: PreflightOptions, rootless: RootlessCheck) =>
    Effect.gen(function* () {
      const minimum = rootless.minimumRange ?? 65536
      const found: Array<string> = []
      for (const file of [
        options.subuidFile ?? "/etc/subuid",
        options.subgidFile ?? "/etc/subgid",
      ]) {
        const text = yield* Effect.tryPromise(() => readFile(file, "utf8")).pipe(
          Effect.orElseSucceed(() => ""),
        )
        const ranges = subordinateRanges(text, rootless.user, rootless.uid)
        const hint = `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${rootless.user}`
        if (ranges.length === 0) {
          return yield* new SubordinateIdsMissing({
            user: rootless.user,
            file,
            reason: "no range",
            hint,
          })
        }
        const largest = Math.max(...ranges.map((r) => r.count))
        if (largest < minimum) {
          return yield* new SubordinateIdsMissing({
            user: rootless.user,
            file,
            reason: `largest range has ${largest} IDs, need ${minimum}`,
            hint,
          })
        }
        found.push(`${file}: ${ranges.map((r) => `${r.start}+${r.count}`).join(", ")}`)
      }
      return found.join("; ")
    })

  const check = Effect.fn("Preflight.check")(function* (options: PreflightOptions = {}) {
    const slirpOptions = options.slirpOptions ?? defaultSlirpOptions
    const checks: Array<PreflightCheck> = []
    const record = <E extends PreflightError>(
      name: PreflightCheckName,
      effect: Effect.Effect<string, E>,
    ) =>
      effect.pipe(
        Effect.match({
          onSuccess: (detail) => checks.push({ name, ok: true, detail }),
          onFailure: (error) => checks.push({ name, ok: false, detail: error.message, error }),
        }),
      )
    yield* record("options", checkOptions(slirpOptions))
    let slirp: (SlirpInfo & { readonly seccomp: boolean }) | undefined
    yield* record(
      "slirp4netns",
      checkSlirp(slirpOptions, options.rootless !== undefined).pipe(
        Effect.tap((info) =>
          Effect.sync(() => {
            slirp = { ...info, seccomp: seccompUsable(info) }
          }),
        ),
        Effect.map(
          (info) =>
            `slirp4netns ${info.version}, libslirp ${info.libslirp ?? "?"}, seccomp ${seccompUsable(info) ? "yes" : "no"}`,
        ),
      ),
    )
    yield* record("tun", checkTun(options.tunDevice ?? "/dev/net/tun", options.rootless))
    yield* record("netns", checkNetns)
    yield* record("nftables", checkNft)
    if (options.rootless !== undefined) {
      yield* record("userns", checkUserns(options))
      yield* record("subids", checkSubids(options, options.rootless))
    }
    return {
      ok: checks.every((c) => c.ok),
      checks,
      ...(slirp === undefined ? {} : { slirp4netns: slirp }),
    } satisfies PreflightReport
  })

  const ensure = Effect.fn("Preflight.ensure")(function* (options: PreflightOptions = {}) {
    const report = yield* check(options)
    const failed = report.checks.find((c) => c.error !== undefined)
    if (failed?.error !== undefined) return yield* Effect.fail(failed.error)
    return report
  })

  return { check, ensure } satisfies PreflightShape
})

export class Preflight extends Context.Service<Preflight, PreflightShape>()(
  "@beemesh/netns/Preflight",
) {
  static readonly layer = Layer.effect(Preflight, make)
}
