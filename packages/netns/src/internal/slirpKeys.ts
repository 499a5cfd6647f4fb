/** The option keys, in the order every textual form writes them, and what each one accepts. */
import type { SlirpOptions } from "../SlirpOptions.js"
import { MTU_MAX, MTU_MIN, MTU_MIN_IPV6, PORT_HANDLERS, PREFIX_MAX } from "./slirpLimits.js"

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
