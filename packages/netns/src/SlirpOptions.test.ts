import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import {
  parsePodmanNetworkOptions,
  renderPodmanNetworkFlag,
  renderPodmanNetworkOptions,
} from "./PodmanNetworkOptions.js"
import { slirpAddresses } from "./SlirpAddresses.js"
import { parseSlirpArgs, renderSlirpArgs } from "./SlirpArgs.js"
import { defaultSlirpOptions, type SlirpOptions, SlirpOptionsInvalid } from "./SlirpOptions.js"
import { decodeSlirpOptions } from "./SlirpValidation.js"

const SEED = "slirp4netns:enable_ipv6=true,allow_host_loopback=true,cidr=10.0.2.0/24,mtu=1500"

const failureOf = <A>(parsed: Effect.Effect<A, SlirpOptionsInvalid>): SlirpOptionsInvalid => {
  const result = Effect.runSync(Effect.result(parsed))
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result)}`)
  expect(result.failure).toBeInstanceOf(SlirpOptionsInvalid)
  return result.failure
}
const successOf = <A>(parsed: Effect.Effect<A, SlirpOptionsInvalid>): A => {
  const result = Effect.runSync(Effect.result(parsed))
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

describe("SlirpOptions defaults", () => {
  it.effect("an empty object decodes to the default options", () =>
    Effect.gen(function* () {
      expect(yield* decodeSlirpOptions({})).toEqual(defaultSlirpOptions)
    }),
  )

  it("the default Podman option renders from the defaults, byte for byte", () => {
    expect(renderPodmanNetworkFlag(defaultSlirpOptions)).toBe(SEED)
    expect(renderPodmanNetworkOptions(defaultSlirpOptions)).toEqual([
      "enable_ipv6=true",
      "allow_host_loopback=true",
      "cidr=10.0.2.0/24",
      "mtu=1500",
    ])
  })

  it("an empty Podman option list means the defaults", () => {
    expect(successOf(parsePodmanNetworkOptions([]))).toEqual(defaultSlirpOptions)
    expect(successOf(parsePodmanNetworkOptions("slirp4netns"))).toEqual(defaultSlirpOptions)
  })
})

const samples: ReadonlyArray<SlirpOptions> = [
  defaultSlirpOptions,
  { enableIpv6: false, allowHostLoopback: false, cidr: "10.0.2.0/24", mtu: 1500 },
  { enableIpv6: true, allowHostLoopback: true, cidr: "192.168.77.0/25", mtu: 65520 },
  { enableIpv6: false, allowHostLoopback: true, cidr: "172.16.0.0/12", mtu: 68 },
  {
    enableIpv6: true,
    allowHostLoopback: false,
    cidr: "10.10.0.0/16",
    mtu: 9000,
    outboundAddr: "192.0.2.10",
    outboundAddr6: "2001:db8::10",
  },
  {
    enableIpv6: true,
    allowHostLoopback: true,
    cidr: "10.0.2.0/24",
    mtu: 1500,
    outboundAddr: "eth0",
    outboundAddr6: "eth0",
    portHandler: "slirp4netns",
  },
]

describe("round trips", () => {
  it.each(samples)("Podman form is lossless: %j", (options) => {
    expect(successOf(parsePodmanNetworkOptions(renderPodmanNetworkOptions(options)))).toEqual(
      options,
    )
    expect(successOf(parsePodmanNetworkOptions(renderPodmanNetworkFlag(options)))).toEqual(options)
    const flag = renderPodmanNetworkFlag(options)
    expect(renderPodmanNetworkFlag(successOf(parsePodmanNetworkOptions(flag)))).toBe(flag)
  })

  it.each(samples)(
    "slirp4netns arguments are lossless (except Podman's portHandler): %j",
    (options) => {
      const { portHandler: _, ...slirpOnly } = options
      expect(successOf(parseSlirpArgs(renderSlirpArgs(options)))).toEqual(slirpOnly)
    },
  )

  it("renders slirp4netns flags", () => {
    expect(renderSlirpArgs(defaultSlirpOptions)).toEqual([
      "--mtu=1500",
      "--cidr=10.0.2.0/24",
      "--enable-ipv6",
    ])
    expect(
      renderSlirpArgs({ ...defaultSlirpOptions, enableIpv6: false, allowHostLoopback: false }),
    ).toEqual(["--mtu=1500", "--cidr=10.0.2.0/24", "--disable-host-loopback"])
  })

  it("absent slirp4netns flags mean slirp4netns' own defaults", () => {
    expect(successOf(parseSlirpArgs([]))).toEqual({
      enableIpv6: false,
      allowHostLoopback: true,
      cidr: "10.0.2.0/24",
      mtu: 1500,
    })
    expect(successOf(parseSlirpArgs(["--mtu", "9000", "-6", "--cidr", "10.1.0.0/16"]))).toEqual({
      enableIpv6: true,
      allowHostLoopback: true,
      cidr: "10.1.0.0/16",
      mtu: 9000,
    })
  })

  it("keys in another order parse to the same options", () => {
    expect(
      successOf(parsePodmanNetworkOptions("mtu=1500,cidr=10.0.2.0/24,allow_host_loopback=true")),
    ).toEqual(defaultSlirpOptions)
  })
})

describe("derived addresses", () => {
  it("the default network", () => {
    expect(slirpAddresses(defaultSlirpOptions)).toEqual({
      network: "10.0.2.0",
      prefixLength: 24,
      netmask: "255.255.255.0",
      gateway: "10.0.2.2",
      dns: "10.0.2.3",
      guest: "10.0.2.100",
      ipv6: { prefix: "fd00::/64", gateway: "fd00::2", dns: "fd00::3" },
    })
  })

  it("another network, IPv6 off", () => {
    const addresses = slirpAddresses({
      ...defaultSlirpOptions,
      enableIpv6: false,
      cidr: "192.168.100.128/25",
    })
    expect(addresses).toEqual({
      network: "192.168.100.128",
      prefixLength: 25,
      netmask: "255.255.255.128",
      gateway: "192.168.100.130",
      dns: "192.168.100.131",
      guest: "192.168.100.228",
    })
  })

  it("a /1 network", () => {
    const addresses = slirpAddresses({ ...defaultSlirpOptions, cidr: "128.0.0.0/1" })
    expect(addresses.guest).toBe("128.0.0.100")
    expect(addresses.netmask).toBe("128.0.0.0")
  })
})

interface BadCase {
  readonly name: string
  readonly parse: () => Effect.Effect<SlirpOptions, SlirpOptionsInvalid>
  readonly option: string
  readonly value: string
  readonly allowed: RegExp
}

const bad: ReadonlyArray<BadCase> = [
  {
    name: "CIDR not IPv4",
    parse: () => decodeSlirpOptions({ cidr: "fd00::/64" }),
    option: "cidr",
    value: "fd00::/64",
    allowed: /IPv4 network address/,
  },
  {
    name: "CIDR octet out of range",
    parse: () => parsePodmanNetworkOptions("cidr=10.0.256.0/24"),
    option: "cidr",
    value: "10.0.256.0/24",
    allowed: /prefix length 1-25/,
  },
  {
    name: "CIDR host address",
    parse: () => parsePodmanNetworkOptions("cidr=10.0.2.100/24"),
    option: "cidr",
    value: "10.0.2.100/24",
    allowed: /network address/,
  },
  {
    name: "CIDR without room for the guest",
    parse: () => parseSlirpArgs(["--cidr=10.0.2.0/26"]),
    option: "--cidr",
    value: "10.0.2.0/26",
    allowed: /1-25/,
  },
  {
    name: "CIDR prefix 0",
    parse: () => decodeSlirpOptions({ cidr: "0.0.0.0/0" }),
    option: "cidr",
    value: "0.0.0.0/0",
    allowed: /1-25/,
  },
  {
    name: "MTU above slirp4netns' maximum",
    parse: () => parsePodmanNetworkOptions("mtu=65522"),
    option: "mtu",
    value: "65522",
    allowed: /68-65521/,
  },
  {
    name: "MTU below the IPv4 minimum",
    parse: () => decodeSlirpOptions({ enableIpv6: false, mtu: 67 }),
    option: "mtu",
    value: "67",
    allowed: /68-65521/,
  },
  {
    name: "MTU below 1280 with IPv6",
    parse: () => parsePodmanNetworkOptions("enable_ipv6=true,mtu=1279"),
    option: "mtu",
    value: "1279",
    allowed: /at least 1280 with IPv6/,
  },
  {
    name: "MTU not an integer",
    parse: () => parsePodmanNetworkOptions("mtu=15x0"),
    option: "mtu",
    value: "15x0",
    allowed: /integer/,
  },
  {
    name: "MTU fractional in JSON",
    parse: () => decodeSlirpOptions({ mtu: 1500.5 }),
    option: "mtu",
    value: "1500.5",
    allowed: /integer/,
  },
  {
    name: "boolean not true/false",
    parse: () => parsePodmanNetworkOptions("enable_ipv6=yes"),
    option: "enable_ipv6",
    value: "yes",
    allowed: /true or false/,
  },
  {
    name: "boolean of the wrong type in JSON",
    parse: () => decodeSlirpOptions({ allowHostLoopback: "true" }),
    option: "allowHostLoopback",
    value: "true",
    allowed: /true or false/,
  },
  {
    name: "unknown Podman key",
    parse: () => parsePodmanNetworkOptions("slirp4netns:mtu=1500,enable_ipv7=true"),
    option: "enable_ipv7",
    value: "true",
    allowed: /enable_ipv6/,
  },
  {
    name: "unknown JSON key",
    parse: () => decodeSlirpOptions({ mtu: 1500, MTU: 1500 }),
    option: "MTU",
    value: "1500",
    allowed: /enableIpv6/,
  },
  {
    name: "unknown slirp4netns flag",
    parse: () => parseSlirpArgs(["--enable-sandbox"]),
    option: "--enable-sandbox",
    value: "",
    allowed: /--mtu/,
  },
  {
    name: "repeated Podman key",
    parse: () => parsePodmanNetworkOptions("mtu=1500,mtu=9000"),
    option: "mtu",
    value: "9000",
    allowed: /at most once/,
  },
  {
    name: "repeated slirp4netns flag",
    parse: () => parseSlirpArgs(["--enable-ipv6", "-6"]),
    option: "-6",
    value: "true",
    allowed: /at most once/,
  },
  {
    name: "not a key=value pair",
    parse: () => parsePodmanNetworkOptions("slirp4netns:mtu"),
    option: "mtu",
    value: "",
    allowed: /key=value/,
  },
  {
    name: "outbound_addr not IPv4",
    parse: () => parsePodmanNetworkOptions("outbound_addr=2001:db8::1"),
    option: "outbound_addr",
    value: "2001:db8::1",
    allowed: /IPv4 address or an interface/,
  },
  {
    name: "outbound_addr6 not IPv6",
    parse: () => parsePodmanNetworkOptions("outbound_addr6=10.0.0.1"),
    option: "outbound_addr6",
    value: "10.0.0.1",
    allowed: /IPv6 address or an interface/,
  },
  {
    name: "unknown port handler",
    parse: () => parsePodmanNetworkOptions("port_handler=socat"),
    option: "port_handler",
    value: "socat",
    allowed: /rootlesskit or slirp4netns/,
  },
  {
    name: "missing flag value",
    parse: () => parseSlirpArgs(["--mtu"]),
    option: "--mtu",
    value: "",
    allowed: /integer/,
  },
  {
    name: "not an object",
    parse: () => decodeSlirpOptions("mtu=1500"),
    option: "(options)",
    value: '"mtu=1500"',
    allowed: /object/,
  },
]

describe("validation", () => {
  it.each(bad)("$name → SlirpOptionsInvalid naming the value and the allowed range", (c) => {
    const error = failureOf(c.parse())
    expect(error._tag).toBe("SlirpOptionsInvalid")
    expect(error.option).toBe(c.option)
    expect(error.value).toBe(c.value)
    expect(error.allowed).toMatch(c.allowed)
    expect(error.message).toContain(c.option)
    expect(error.message).toContain(c.allowed.source.replace(/\\/g, "").slice(0, 6))
  })

  it.effect("the Effect API fails with the typed error", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(parsePodmanNetworkOptions("mtu=70000"))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(parsePodmanNetworkOptions("mtu=70000"))
      expect(error).toBeInstanceOf(SlirpOptionsInvalid)
      expect(error.message).toBe(
        "slirp4netns option mtu=70000 is invalid: out of range (allowed: an integer 68-65521 (at least 1280 with IPv6))",
      )
    }),
  )
})
