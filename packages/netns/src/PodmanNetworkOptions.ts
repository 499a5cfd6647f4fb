/** Podman's form of the options: `slirp4netns:enable_ipv6=true,allow_host_loopback=true,…`. */
import { Effect, Result } from "effect"
import { KEYS, type Key } from "./internal/slirpKeys.js"
import { fromPairs, type OptionNames } from "./internal/slirpRules.js"
import { type SlirpOptions, SlirpOptionsInvalid } from "./SlirpOptions.js"

const PODMAN_KEYS: Record<Key, string> = {
  enableIpv6: "enable_ipv6",
  allowHostLoopback: "allow_host_loopback",
  cidr: "cidr",
  mtu: "mtu",
  outboundAddr: "outbound_addr",
  outboundAddr6: "outbound_addr6",
  portHandler: "port_handler",
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
): Effect.Effect<SlirpOptions, SlirpOptionsInvalid> => Effect.fromResult(parseItems(input))

const parseItems = (
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
