import { Effect } from "effect"
import type { CommandError } from "../Errors.js"
import type { HostToolsShape } from "../HostTools.js"
import type { SlirpOptions } from "../SlirpOptions.js"
import { run } from "./command.js"

/** What `slirp4netns --version` and `--help` say about the installed binary. */
export interface SlirpInfo {
  readonly version: string
  readonly libslirp: string | undefined
  readonly configVersionMax: number | undefined
  readonly libseccomp: string | undefined
  /** Long options listed by `--help` (without the dashes). */
  readonly features: ReadonlyArray<string>
}

/** Oldest slirp4netns we accept: 1.1 added --outbound-addr/--disable-dns; Debian 12 ships 1.2. */
export const MINIMUM_VERSION = "1.1.0"

/** Flags every start uses. */
export const BASE_FEATURES = [
  "configure",
  "ready-fd",
  "exit-fd",
  "api-socket",
  "mtu",
  "cidr",
  "netns-type",
] as const

export const probeSlirp = (tools: HostToolsShape): Effect.Effect<SlirpInfo, CommandError> =>
  Effect.gen(function* () {
    const version = yield* run(tools, [tools.slirp4netns, "--version"], { timeoutMs: 10_000 })
    const help = yield* run(tools, [tools.slirp4netns, "--help"], { timeoutMs: 10_000 })
    const field = (name: string) =>
      new RegExp(`^${name}:?\\s*(\\S+)`, "mi").exec(version.stdout)?.[1]?.trim()
    const features = [...help.stdout.matchAll(/--([a-z0-9-]+)/g)].map((m) => m[1]!)
    const configMax = field("SLIRP_CONFIG_VERSION_MAX")
    return {
      version: /slirp4netns version (\S+)/.exec(version.stdout)?.[1] ?? "unknown",
      libslirp: field("libslirp"),
      configVersionMax: configMax === undefined ? undefined : Number(configMax),
      libseccomp: field("libseccomp"),
      features: [...new Set(features)],
    }
  })

const parts = (v: string) => v.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0)

export const versionAtLeast = (version: string, minimum: string): boolean => {
  const a = parts(version)
  const b = parts(minimum)
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0
    const y = b[i] ?? 0
    if (x !== y) return x > y
  }
  return true
}

/** slirp4netns flags the options need. */
export const featuresFor = (
  options: SlirpOptions,
  extra: { readonly userns?: boolean } = {},
): ReadonlyArray<string> => [
  ...BASE_FEATURES,
  ...(options.enableIpv6 ? ["enable-ipv6"] : []),
  ...(options.allowHostLoopback ? [] : ["disable-host-loopback"]),
  ...(options.outboundAddr === undefined ? [] : ["outbound-addr"]),
  ...(options.outboundAddr6 === undefined ? [] : ["outbound-addr6"]),
  ...(extra.userns === true ? ["userns-path"] : []),
]

export const seccompUsable = (info: SlirpInfo) =>
  info.features.includes("enable-seccomp") && info.libseccomp !== undefined
