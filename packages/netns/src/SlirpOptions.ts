/**
 * slirp4netns settings of a pod network: the Schema, validation, and the two textual forms that
 * carry them — Podman's network option (`slirp4netns:k=v,…`) and slirp4netns' command line.
 */
import { isIPv4, isIPv6 } from "node:net"
import { Data, Effect, Result, Schema } from "effect"

/** Largest MTU slirp4netns 1.2 accepts ("MTU must be a positive integer (< 65522)"). */
export const MTU_MAX = 65521
/** Smallest IPv4 MTU Linux and libslirp accept. */
export const MTU_MIN = 68
/** IPv6 needs links of at least 1280 bytes (RFC 8200 §5). */
export const MTU_MIN_IPV6 = 1280
/** slirp4netns refuses longer prefixes: the guest sits at host number 100 of the network. */
export const PREFIX_MAX = 25
/** Host numbers slirp4netns gives fixed roles inside the CIDR. */
export const GATEWAY_HOST = 2
export const DNS_HOST = 3
export const GUEST_HOST = 100
/** slirp4netns 1.2 has a fixed IPv6 network (no option changes it). */
export const IPV6_PREFIX = "fd00::/64"
export const IPV6_GATEWAY = "fd00::2"
export const IPV6_DNS = "fd00::3"

export const PORT_HANDLERS = ["rootlesskit", "slirp4netns"] as const

/**
 * The options. Missing keys decode to the defaults, which give every pod IPv6,
 * a way to the host's loopback (the agent) and its own private IPv4 network
 * (`enable_ipv6=true,allow_host_loopback=true,cidr=10.0.2.0/24,mtu=1500`).
 * `portHandler` is Podman's choice of port forwarder and has no slirp4netns flag.
 */
export const SlirpOptions = Schema.Struct({
  enableIpv6: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  allowHostLoopback: Schema.Boolean.pipe(Schema.withDecodingDefaultKey(Effect.succeed(true))),
  cidr: Schema.String.pipe(Schema.withDecodingDefaultKey(Effect.succeed("10.0.2.0/24"))),
  mtu: Schema.Int.pipe(Schema.withDecodingDefaultKey(Effect.succeed(1500))),
  /** IPv4 address or interface name outbound connections are bound to. */
  outboundAddr: Schema.optionalKey(Schema.String),
  /** IPv6 address or interface name outbound connections are bound to. */
  outboundAddr6: Schema.optionalKey(Schema.String),
  portHandler: Schema.optionalKey(Schema.Literals(PORT_HANDLERS)),
})
export type SlirpOptions = typeof SlirpOptions.Type
export type SlirpOptionsInput = typeof SlirpOptions.Encoded

/** The options every pod gets unless configured otherwise. */
export const defaultSlirpOptions: SlirpOptions = {
  enableIpv6: true,
  allowHostLoopback: true,
  cidr: "10.0.2.0/24",
  mtu: 1500,
}

/** A slirp4netns option has a bad value, is unknown, or is given twice. Nothing was started. */
export class SlirpOptionsInvalid extends Data.TaggedError("SlirpOptionsInvalid")<{
  /** The option as the user wrote it (`mtu`, `enable_ipv6`, `--cidr`, …). */
  readonly option: string
  readonly value: string
  /** What would have been accepted. */
  readonly allowed: string
  readonly reason: string
}> {
  override get message() {
    return `slirp4netns option ${this.option}=${this.value} is invalid: ${this.reason} (allowed: ${this.allowed})`
  }
}

type Key = keyof SlirpOptions
const KEYS: ReadonlyArray<Key> = [
  "enableIpv6",
  "allowHostLoopback",
  "cidr",
  "mtu",
  "outboundAddr",
  "outboundAddr6",
  "portHandler",
]

const ALLOWED: Record<Key, string> = {
  enableIpv6: "true or false",
  allowHostLoopback: "true or false",
  cidr: `an IPv4 network address with prefix length 1-${PREFIX_MAX}, e.g. 10.0.2.0/24`,
  mtu: `an integer ${MTU_MIN}-${MTU_MAX} (at least ${MTU_MIN_IPV6} with IPv6)`,
  outboundAddr: "an IPv4 address or an interface name",
  outboundAddr6: "an IPv6 address or an interface name",
  portHandler: PORT_HANDLERS.join(" or "),
}

// --- IPv4 arithmetic --------------------------------------------------------------------------

const ipv4ToInt = (ip: string): number =>
  ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0)

const intToIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

interface ParsedCidr {
  readonly network: number
  readonly prefixLength: number
}

const parseCidr = (cidr: string): Result.Result<ParsedCidr, string> => {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr)
  if (match === null || !isIPv4(match[1]!)) {
    return Result.fail("not an IPv4 CIDR")
  }
  const prefixLength = Number(match[2])
  if (prefixLength < 1 || prefixLength > PREFIX_MAX) {
    return Result.fail(
      `prefix length ${prefixLength} leaves no room for the guest at host number ${GUEST_HOST}`,
    )
  }
  const address = ipv4ToInt(match[1]!)
  const hostBits = 32 - prefixLength
  const network = Math.floor(address / 2 ** hostBits) * 2 ** hostBits
  if (network !== address) {
    return Result.fail(
      `not a network address (did you mean ${intToIpv4(network)}/${prefixLength}?)`,
    )
  }
  return Result.succeed({ network, prefixLength })
}

const isInterfaceName = (s: string) =>
  /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(s) && !/^[\d.]+$/.test(s)

// --- validation -------------------------------------------------------------------------------

const invalid = (option: string, value: unknown, key: Key, reason: string) =>
  new SlirpOptionsInvalid({
    option,
    value: typeof value === "string" ? value : JSON.stringify(value),
    allowed: ALLOWED[key],
    reason,
  })

/** Names under which each option is reported (the form the user wrote). */
type OptionNames = Record<Key, string>
const SCHEMA_NAMES: OptionNames = {
  enableIpv6: "enableIpv6",
  allowHostLoopback: "allowHostLoopback",
  cidr: "cidr",
  mtu: "mtu",
  outboundAddr: "outboundAddr",
  outboundAddr6: "outboundAddr6",
  portHandler: "portHandler",
}

const checkSemantics = (
  options: SlirpOptions,
  names: OptionNames,
): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  const cidr = parseCidr(options.cidr)
  if (Result.isFailure(cidr)) {
    return Result.fail(invalid(names.cidr, options.cidr, "cidr", cidr.failure))
  }
  if (options.mtu < MTU_MIN || options.mtu > MTU_MAX) {
    return Result.fail(invalid(names.mtu, String(options.mtu), "mtu", "out of range"))
  }
  if (options.enableIpv6 && options.mtu < MTU_MIN_IPV6) {
    return Result.fail(
      invalid(
        names.mtu,
        String(options.mtu),
        "mtu",
        `IPv6 is enabled and needs an MTU of at least ${MTU_MIN_IPV6}`,
      ),
    )
  }
  if (
    options.outboundAddr !== undefined &&
    !isIPv4(options.outboundAddr) &&
    !isInterfaceName(options.outboundAddr)
  ) {
    return Result.fail(
      invalid(names.outboundAddr, options.outboundAddr, "outboundAddr", "not an IPv4 address"),
    )
  }
  if (
    options.outboundAddr6 !== undefined &&
    !isIPv6(options.outboundAddr6) &&
    !isInterfaceName(options.outboundAddr6)
  ) {
    return Result.fail(
      invalid(names.outboundAddr6, options.outboundAddr6, "outboundAddr6", "not an IPv6 address"),
    )
  }
  return Result.succeed(options)
}

/** Checks the rules that span fields or need arithmetic (CIDR room, MTU with IPv6, addresses). */
export const validateSlirpOptions = (
  options: SlirpOptions,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> =>
  Effect.fromResult(checkSemantics(options, SCHEMA_NAMES))

const decodeField = (key: Key, value: unknown) =>
  Schema.decodeUnknownResult(SlirpOptions.fields[key])(value)

const decodeObject = (input: unknown): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Result.fail(
      new SlirpOptionsInvalid({
        option: "(options)",
        value: JSON.stringify(input) ?? String(input),
        allowed: `an object with keys ${KEYS.join(", ")}`,
        reason: "not an object",
      }),
    )
  }
  for (const [key, value] of Object.entries(input)) {
    if (!(KEYS as ReadonlyArray<string>).includes(key)) {
      return Result.fail(
        new SlirpOptionsInvalid({
          option: key,
          value: JSON.stringify(value) ?? String(value),
          allowed: `one of the keys ${KEYS.join(", ")}`,
          reason: "unknown option",
        }),
      )
    }
    if (Result.isFailure(decodeField(key as Key, value))) {
      return Result.fail(invalid(key, value, key as Key, "wrong type"))
    }
  }
  const decoded = Schema.decodeUnknownResult(SlirpOptions)(input)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new SlirpOptionsInvalid({
        option: "(options)",
        value: JSON.stringify(input),
        allowed: `an object with keys ${KEYS.join(", ")}`,
        reason: decoded.failure.message,
      }),
    )
  }
  return checkSemantics(decoded.success, SCHEMA_NAMES)
}

/** Decodes options from JSON-like input (agent config): defaults filled in, every rule checked. */
export const decodeSlirpOptions = (
  input: unknown,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> => Effect.fromResult(decodeObject(input))

/** Synchronous twin of {@link decodeSlirpOptions}, for callers outside Effect. */
export const decodeSlirpOptionsResult = decodeObject

// --- Podman's form: slirp4netns:enable_ipv6=true,allow_host_loopback=true,… ------------------

const PODMAN_KEYS: Record<Key, string> = {
  enableIpv6: "enable_ipv6",
  allowHostLoopback: "allow_host_loopback",
  cidr: "cidr",
  mtu: "mtu",
  outboundAddr: "outbound_addr",
  outboundAddr6: "outbound_addr6",
  portHandler: "port_handler",
}

const BOOLEAN_KEYS: ReadonlyArray<Key> = ["enableIpv6", "allowHostLoopback"]

const parseTextValue = (
  key: Key,
  option: string,
  text: string,
): Result.Result<unknown, SlirpOptionsInvalid> => {
  if (BOOLEAN_KEYS.includes(key)) {
    if (text === "true") return Result.succeed(true)
    if (text === "false") return Result.succeed(false)
    return Result.fail(invalid(option, text, key, "not a boolean"))
  }
  if (key === "mtu") {
    if (!/^\d+$/.test(text)) return Result.fail(invalid(option, text, key, "not an integer"))
    return Result.succeed(Number(text))
  }
  if (key === "portHandler" && !(PORT_HANDLERS as ReadonlyArray<string>).includes(text)) {
    return Result.fail(invalid(option, text, key, "unknown port handler"))
  }
  if (text === "") return Result.fail(invalid(option, text, key, "empty value"))
  return Result.succeed(text)
}

const fromPairs = (
  pairs: ReadonlyArray<readonly [option: string, key: Key | undefined, text: string]>,
  names: OptionNames,
  allowedKeys: string,
): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  const out: Record<string, unknown> = {}
  for (const [option, key, text] of pairs) {
    if (key === undefined) {
      return Result.fail(
        new SlirpOptionsInvalid({
          option,
          value: text,
          allowed: allowedKeys,
          reason: "unknown option",
        }),
      )
    }
    if (key in out) {
      return Result.fail(
        new SlirpOptionsInvalid({
          option,
          value: text,
          allowed: "each option at most once",
          reason: "given more than once",
        }),
      )
    }
    const value = parseTextValue(key, option, text)
    if (Result.isFailure(value)) return Result.fail(value.failure)
    out[key] = value.success
  }
  const decoded = Schema.decodeUnknownResult(SlirpOptions)(out)
  if (Result.isFailure(decoded)) {
    // Unreachable by construction (every value was typed above); kept as a typed failure.
    return Result.fail(
      new SlirpOptionsInvalid({
        option: "(options)",
        value: JSON.stringify(out),
        allowed: allowedKeys,
        reason: decoded.failure.message,
      }),
    )
  }
  return checkSemantics(decoded.success, names)
}

const PODMAN_NAMES = PODMAN_KEYS as OptionNames
const podmanKeyOf = (name: string): Key | undefined => KEYS.find((key) => PODMAN_KEYS[key] === name)

/**
 * Parses Podman's slirp4netns network options: either the `--network` form
 * (`slirp4netns:enable_ipv6=true,mtu=1500`), the bare `k=v,k=v` list, or the REST API's array
 * (`network_options.slirp4netns: ["enable_ipv6=true", …]`). Missing keys take the defaults.
 */
export const parsePodmanNetworkOptions = (
  input: string | ReadonlyArray<string>,
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> =>
  Effect.fromResult(parsePodmanNetworkOptionsResult(input))

export const parsePodmanNetworkOptionsResult = (
  input: string | ReadonlyArray<string>,
): Result.Result<SlirpOptions, SlirpOptionsInvalid> => {
  let items: ReadonlyArray<string>
  if (typeof input === "string") {
    const body = input.startsWith("slirp4netns:")
      ? input.slice("slirp4netns:".length)
      : input === "slirp4netns"
        ? ""
        : input
    items = body === "" ? [] : body.split(",")
  } else {
    items = input
  }
  const pairs: Array<readonly [string, Key | undefined, string]> = []
  for (const item of items) {
    const eq = item.indexOf("=")
    if (eq <= 0) {
      return Result.fail(
        new SlirpOptionsInvalid({
          option: item,
          value: "",
          allowed: "key=value",
          reason: "not a key=value pair",
        }),
      )
    }
    const name = item.slice(0, eq)
    pairs.push([name, podmanKeyOf(name), item.slice(eq + 1)])
  }
  return fromPairs(pairs, PODMAN_NAMES, Object.values(PODMAN_KEYS).join(", "))
}

/** Podman's option list (`["enable_ipv6=true", …]`, for the REST API), every setting explicit. */
export const renderPodmanNetworkOptions = (options: SlirpOptions): Array<string> =>
  KEYS.flatMap((key) => {
    const value = options[key]
    return value === undefined ? [] : [`${PODMAN_KEYS[key]}=${String(value)}`]
  })

/** Podman's `--network` value: `slirp4netns:enable_ipv6=true,allow_host_loopback=true,…`. */
export const renderPodmanNetworkFlag = (options: SlirpOptions): string =>
  `slirp4netns:${renderPodmanNetworkOptions(options).join(",")}`

// --- slirp4netns' command line ---------------------------------------------------------------

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
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> => Effect.fromResult(parseSlirpArgsResult(args))

export const parseSlirpArgsResult = (
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

// --- derived addresses -------------------------------------------------------------------------

export interface SlirpAddresses {
  readonly network: string
  readonly prefixLength: number
  readonly netmask: string
  /** The host's loopback as seen from the guest (when `allowHostLoopback`), also the router. */
  readonly gateway: string
  readonly dns: string
  /** The address slirp4netns `--configure` gives the tap device. */
  readonly guest: string
  /** Present when IPv6 is enabled. The guest's own address comes from SLAAC (its MAC). */
  readonly ipv6?: {
    readonly prefix: string
    readonly gateway: string
    readonly dns: string
  }
}

/** The addresses slirp4netns derives from the options (assumes validated options). */
export const slirpAddresses = (options: SlirpOptions): SlirpAddresses => {
  const cidr = parseCidr(options.cidr)
  if (Result.isFailure(cidr)) {
    throw new Error(`slirpAddresses: unvalidated options (${cidr.failure})`)
  }
  const { network, prefixLength } = cidr.success
  const netmask = (0xffffffff << (32 - prefixLength)) >>> 0
  return {
    network: intToIpv4(network),
    prefixLength,
    netmask: intToIpv4(netmask),
    gateway: intToIpv4(network + GATEWAY_HOST),
    dns: intToIpv4(network + DNS_HOST),
    guest: intToIpv4(network + GUEST_HOST),
    ...(options.enableIpv6
      ? { ipv6: { prefix: IPV6_PREFIX, gateway: IPV6_GATEWAY, dns: IPV6_DNS } }
      : {}),
  }
}

export const gatewayAddress = (options: SlirpOptions) => slirpAddresses(options).gateway
export const dnsAddress = (options: SlirpOptions) => slirpAddresses(options).dns
export const guestAddress = (options: SlirpOptions) => slirpAddresses(options).guest
