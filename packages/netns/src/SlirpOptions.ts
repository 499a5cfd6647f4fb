/**
 * slirp4netns settings of a pod network: the Schema, its limits and the typed error. Validation is
 * in SlirpValidation.ts, the two textual forms in PodmanNetworkOptions.ts (`slirp4netns:k=v,…`)
 * and SlirpArgs.ts (slirp4netns' command line), the derived addresses in SlirpAddresses.ts. The
 * API is Effect throughout.
 */
import { Data, Effect, Schema } from "effect"

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

export type Key = keyof SlirpOptions
export const KEYS: ReadonlyArray<Key> = [
  "enableIpv6",
  "allowHostLoopback",
  "cidr",
  "mtu",
  "outboundAddr",
  "outboundAddr6",
  "portHandler",
]

export const ALLOWED: Record<Key, string> = {
  enableIpv6: "true or false",
  allowHostLoopback: "true or false",
  cidr: `an IPv4 network address with prefix length 1-${PREFIX_MAX}, e.g. 10.0.2.0/24`,
  mtu: `an integer ${MTU_MIN}-${MTU_MAX} (at least ${MTU_MIN_IPV6} with IPv6)`,
  outboundAddr: "an IPv4 address or an interface name",
  outboundAddr6: "an IPv6 address or an interface name",
  portHandler: PORT_HANDLERS.join(" or "),
}
