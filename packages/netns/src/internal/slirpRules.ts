/**
 * The rules every form of the options goes through: per-field text parsing, duplicates and unknown
 * names, then the checks that span fields (CIDR room, MTU with IPv6, outbound addresses). Errors
 * name the option as the user wrote it. Pure (Result); the public API wraps it in Effect.
 */
import { isIPv4, isIPv6 } from "node:net"
import { Result, Schema } from "effect"
import { SlirpOptions, SlirpOptionsInvalid } from "../SlirpOptions.js"
import { isInterfaceName, parseCidr } from "./ipv4.js"
import { ALLOWED, type Key } from "./slirpKeys.js"
import { MTU_MAX, MTU_MIN, MTU_MIN_IPV6, PORT_HANDLERS } from "./slirpLimits.js"

export const invalid = (option: string, value: unknown, key: Key, reason: string) =>
  new SlirpOptionsInvalid({
    option,
    value: typeof value === "string" ? value : JSON.stringify(value),
    allowed: ALLOWED[key],
    reason,
  })

/** Names under which each option is reported (the form the user wrote). */
export type OptionNames = Record<Key, string>
export const SCHEMA_NAMES: OptionNames = {
  enableIpv6: "enableIpv6",
  allowHostLoopback: "allowHostLoopback",
  cidr: "cidr",
  mtu: "mtu",
  outboundAddr: "outboundAddr",
  outboundAddr6: "outboundAddr6",
  portHandler: "portHandler",
}

export const checkSemantics = (
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

export const BOOLEAN_KEYS: ReadonlyArray<Key> = ["enableIpv6", "allowHostLoopback"]

export const parseTextValue = (
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

export const fromPairs = (
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
