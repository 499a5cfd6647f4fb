/**
 * The rules of the sidecar's single variables, each a parser that returns the value or a reason
 * that names the offending input. Only the standard library: the contract depends on effect alone.
 */
import { isIPv4, isIPv6 } from "node:net"
import { Result } from "effect"
import * as DnsLabel from "../DnsLabel.js"
import { parsePort } from "../PortList.js"

/** Podman's rule for pod names, which are wider than DNS labels (`_` and `.` allowed). */
const POD_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/

export const parseLabel =
  (what: string) =>
  (raw: string): Result.Result<string, string> => {
    const problem = DnsLabel.problem(raw)
    return problem === undefined
      ? Result.succeed(raw)
      : Result.fail(`"${raw}" is not a valid ${what}: it is ${problem}`)
  }

export const parsePodName = (raw: string): Result.Result<string, string> =>
  POD_NAME.test(raw)
    ? Result.succeed(raw)
    : Result.fail(`"${raw}" is not a valid pod name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, 1-253 characters)`)

export const parseAgentUrl = (raw: string): Result.Result<string, string> => {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || !URL.canParse(raw))
    return Result.fail(`"${raw}" is not a URL`)
  const url = new URL(raw)
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return Result.fail(`scheme ${url.protocol} is not http or https`)
  if (url.search !== "" || url.hash !== "")
    return Result.fail("the URL must not carry a query or fragment")
  return Result.succeed(url.href.replace(/\/+$/, ""))
}

const HOSTS: Record<string, (host: string) => boolean> = {
  ip4: isIPv4,
  ip6: isIPv6,
  dns: (h) => /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h),
  dns4: (h) => /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h),
  dns6: (h) => /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(h),
}

const TCP_FORM = "/ip4|/ip6|/dns4|/dns6/<host>/tcp/<port>"

/** One TCP multiaddr: `/<ip4|ip6|dns|dns4|dns6>/<host>/tcp/<port>`, optionally `/p2p/<peer id>`. */
const parseTcpMultiaddr = (item: string): string | undefined => {
  const parts = item.split("/")
  if (parts[0] !== "" || parts.length < 3 || parts.slice(1).some((p) => p === ""))
    return `"${item}" is not a multiaddr`
  const [, protocol = "", host = "", transport, port, ...rest] = parts
  const hostRule = HOSTS[protocol]
  if (hostRule === undefined || transport !== "tcp" || port === undefined)
    return `"${item}" is not a TCP address (${TCP_FORM})`
  if (!hostRule(host)) return `"${item}" is not a multiaddr: "${host}" is not an ${protocol} host`
  if (Result.isFailure(parsePort(port)))
    return `"${item}" is not a multiaddr: "${port}" is not a TCP port`
  if (rest.length > 0 && !(rest.length === 2 && rest[0] === "p2p"))
    return `"${item}" is not a TCP address (${TCP_FORM}, optionally /p2p/<peer id>)`
  return undefined
}

export const parseAdvertise = (raw: string): Result.Result<ReadonlyArray<string>, string> => {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (items.length === 0) return Result.fail("no address given")
  for (const item of items) {
    const problem = parseTcpMultiaddr(item)
    if (problem !== undefined) return Result.fail(problem)
  }
  return Result.succeed(items)
}

/** Relays a NATed host holds slots at: TCP multiaddrs that name the relay's peer id. */
export const parseRelays = (raw: string): Result.Result<ReadonlyArray<string>, string> => {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (items.length === 0) return Result.fail("no relay given")
  for (const item of items) {
    const problem = parseTcpMultiaddr(item)
    if (problem !== undefined) return Result.fail(problem)
    if (!item.includes("/p2p/")) return Result.fail(`"${item}" does not name the relay's peer id`)
  }
  return Result.succeed(items)
}

export const parseToken = (raw: string): Result.Result<string, string> =>
  raw.length >= 16 && /^[\x21-\x7e]+$/.test(raw)
    ? Result.succeed(raw)
    : Result.fail("the token must be at least 16 printable characters without spaces")

export const parseMeshKeyHex = (raw: string): Result.Result<string, string> =>
  /^[0-9a-f]{64}$/.test(raw)
    ? Result.succeed(raw)
    : Result.fail("the mesh key must be 64 lowercase hex digits (32 bytes)")

/** A libp2p peer id in its base58 form (Ed25519 ids start with 12D3KooW), checked by shape only. */
export const parsePeerId = (raw: string): Result.Result<string, string> =>
  /^[1-9A-HJ-NP-Za-km-z]{46,128}$/.test(raw)
    ? Result.succeed(raw)
    : Result.fail(`"${raw}" is not a libp2p peer id (base58, like 12D3KooW…)`)

export const parseIpv4 = (raw: string): Result.Result<string, string> =>
  isIPv4(raw) ? Result.succeed(raw) : Result.fail(`"${raw}" is not an IPv4 address`)

export const parseFilePath = (raw: string): Result.Result<string, string> =>
  raw.startsWith("/") ? Result.succeed(raw) : Result.fail(`"${raw}" is not an absolute path`)
