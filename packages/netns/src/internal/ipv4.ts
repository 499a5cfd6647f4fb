/** IPv4 arithmetic for slirp4netns' CIDR (network address, prefix, host numbers). */
import { isIPv4 } from "node:net"
import { Result } from "effect"
import { GUEST_HOST, PREFIX_MAX } from "./slirpLimits.js"

export const ipv4ToInt = (ip: string): number =>
  ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0)

export const intToIpv4 = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

export interface ParsedCidr {
  readonly network: number
  readonly prefixLength: number
}

export const parseCidr = (cidr: string): Result.Result<ParsedCidr, string> => {
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

export const isInterfaceName = (s: string) =>
  /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/.test(s) && !/^[\d.]+$/.test(s)
