/** The addresses slirp4netns derives from its options. */
import { Result } from "effect"
import { intToIpv4, parseCidr } from "./internal/ipv4.js"
import {
  DNS_HOST,
  GATEWAY_HOST,
  GUEST_HOST,
  IPV6_DNS,
  IPV6_GATEWAY,
  IPV6_PREFIX,
} from "./internal/slirpLimits.js"
import type { SlirpOptions } from "./SlirpOptions.js"

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
