/**
 * slirp4netns settings of a pod network: the Schema, its limits and the typed error. Validation is
 * in SlirpValidation.ts, the two textual forms in PodmanNetworkOptions.ts (`slirp4netns:k=v,…`)
 * and SlirpArgs.ts (slirp4netns' command line), the derived addresses in SlirpAddresses.ts. The
 * API is Effect throughout.
 */
import { Data, Effect, Schema } from "effect"
import { PORT_HANDLERS } from "./internal/slirpLimits.js"

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
