/** slirp4netns' command-line form of the options. */
import { Effect, Result } from "effect"
import type { Key } from "./internal/slirpKeys.js"
import { fromPairs, invalid, type OptionNames } from "./internal/slirpRules.js"
import type { SlirpOptions, SlirpOptionsInvalid } from "./SlirpOptions.js"

const CLI_VALUE_FLAGS: Partial<Record<string, Key>> = {
  "--mtu": "mtu",
  "-m": "mtu",
  "--cidr": "cidr",
  "--outbound-addr": "outboundAddr",
  "--outbound-addr6": "outboundAddr6",
}
const CLI_NAMES: OptionNames = {
  enableIpv6: "--enable-ipv6",
  allowHostLoopback: "--disable-host-loopback",
  cidr: "--cidr",
  mtu: "--mtu",
  outboundAddr: "--outbound-addr",
  outboundAddr6: "--outbound-addr6",
  portHandler: "(podman port_handler)",
}

/**
 * The slirp4netns arguments that carry these options (not the process plumbing such as
 * `--configure` or `--api-socket`). Every value is explicit; `portHandler` has no flag.
 */
export const renderSlirpArgs = (options: SlirpOptions): Array<string> => [
  `--mtu=${options.mtu}`,
  `--cidr=${options.cidr}`,
  ...(options.enableIpv6 ? ["--enable-ipv6"] : []),
  ...(options.allowHostLoopback ? [] : ["--disable-host-loopback"]),
  ...(options.outboundAddr === undefined ? [] : [`--outbound-addr=${options.outboundAddr}`]),
  ...(options.outboundAddr6 === undefined ? [] : [`--outbound-addr6=${options.outboundAddr6}`]),
]

/**
 * Parses slirp4netns option arguments (as {@link renderSlirpArgs} writes them, `--flag=value` or
 * `--flag value`). Absent flags mean what slirp4netns does without them: IPv6 off, host loopback
 * allowed, 10.0.2.0/24, MTU 1500.
 */
export const parseSlirpArgs = (
  args: ReadonlyArray<string>,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> => Effect.fromResult(parseArgs(args))

const parseArgs = (
  args: ReadonlyArray<string>,
): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  const pairs: Array<readonly [string, Key | undefined, string]> = []
  let enableIpv6 = false
  let allowHostLoopback = true
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--enable-ipv6" || arg === "-6") {
      pairs.push([arg, "enableIpv6", "true"])
      enableIpv6 = true
      continue
    }
    if (arg === "--disable-host-loopback") {
      pairs.push([arg, "allowHostLoopback", "false"])
      allowHostLoopback = false
      continue
    }
    const eq = arg.indexOf("=")
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const key = CLI_VALUE_FLAGS[flag]
    if (key === undefined) {
      pairs.push([arg, undefined, ""])
      continue
    }
    let text: string
    if (eq > 0) {
      text = arg.slice(eq + 1)
    } else {
      const next = args[i + 1]
      if (next === undefined) {
        return Result.fail(invalid(flag, "", key, "missing value"))
      }
      text = next
      i++
    }
    pairs.push([flag, key, text])
  }
  const allowedFlags = [
    "--enable-ipv6",
    "--disable-host-loopback",
    ...Object.keys(CLI_VALUE_FLAGS),
  ].join(", ")
  const parsed = fromPairs(
    [
      ...pairs,
      // slirp4netns' own defaults for the boolean flags, unless given (a repeat is refused above).
      ...(pairs.some(([, k]) => k === "enableIpv6")
        ? []
        : ([["--enable-ipv6", "enableIpv6", String(enableIpv6)]] as const)),
      ...(pairs.some(([, k]) => k === "allowHostLoopback")
        ? []
        : ([["--disable-host-loopback", "allowHostLoopback", String(allowHostLoopback)]] as const)),
    ],
    CLI_NAMES,
    allowedFlags,
  )
  return parsed
}
