/**
 * A pod's egress policy as data, its nftables ruleset (inet family: IPv4 and IPv6 together), and
 * the check of a ruleset read back from nftables. The `Egress` service (Egress.ts) puts it in force.
 *
 * What the ruleset lets through: loopback, established/related traffic, new outbound traffic from
 * the allowed UIDs (the sidecar), new inbound connections to the allowed ports, and the ICMPv6
 * neighbour discovery IPv6 itself needs. Everything else is dropped.
 *
 * Loopback traffic is also left out of connection tracking (two chains at the `raw` priority,
 * ahead of conntrack): the filter accepts it before any `ct state` rule, so tracking it only cost
 * a lookup per packet and an entry per connection, kept 120 s after the connection's end (an app
 * and its sidecar talk over loopback once per proxied connection: tens of thousands of entries
 * in a busy pod, each counted against the host's `nf_conntrack_max`; 5–10 % of a Node proxy
 * hop's CPU per connection). Traffic through the namespace's other interfaces is tracked as before.
 *
 * A policy may also set the namespace's `net.ipv4.ip_unprivileged_port_start` (IPv4 and IPv6
 * alike). A pod's apps run as root of a user namespace of their own, which holds no capability over
 * the pod's network namespace: without this, an image that binds :80 as root (nginx-style) fails.
 */
import { Data, Effect, Schema } from "effect"

/** The sidecar's UID by default: only the sidecar may open connections out of the pod. */
export const SIDECAR_UID = 1337
export const DEFAULT_TABLE = "beemesh_egress"

const Port = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1), Schema.isLessThanOrEqualTo(65535))
const Uid = Schema.Int.check(
  Schema.isGreaterThanOrEqualTo(0),
  Schema.isLessThanOrEqualTo(4294967294),
)

/** The sysctl `unprivilegedPortStart` sets, in the policy's namespace only. */
export const UNPRIVILEGED_PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"

export const EgressPolicy = Schema.Struct({
  /** UIDs whose sockets may open new outbound connections. */
  allowedUids: Schema.Array(Uid).pipe(Schema.withDecodingDefaultKey(Effect.succeed([SIDECAR_UID]))),
  /** Ports that accept new inbound TCP connections (the sidecar's published port). */
  inboundTcpPorts: Schema.Array(Port).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  inboundUdpPorts: Schema.Array(Port).pipe(Schema.withDecodingDefaultKey(Effect.succeed([]))),
  /** nftables table name (letters, digits, underscore). */
  table: Schema.String.check(Schema.isPattern(/^[A-Za-z][A-Za-z0-9_]{0,63}$/)).pipe(
    Schema.withDecodingDefaultKey(Effect.succeed(DEFAULT_TABLE)),
  ),
  /**
   * `net.ipv4.ip_unprivileged_port_start` in the namespace, set with the rules and checked by
   * verify; absent: left as it is. Removing the rules leaves it (it opens nothing outward).
   */
  unprivilegedPortStart: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(65535)),
  ),
})
export type EgressPolicy = typeof EgressPolicy.Type

/** The sidecar-only policy with the given inbound TCP ports. */
export const sidecarOnly = (inboundTcpPorts: ReadonlyArray<number> = []): EgressPolicy => ({
  allowedUids: [SIDECAR_UID],
  inboundTcpPorts,
  inboundUdpPorts: [],
  table: DEFAULT_TABLE,
})

/**
 * The policy of a pod's namespace: sidecar-only egress, and every port bindable by anyone in it, so
 * that root of an app's own user namespace can bind below 1024 as it could on a host.
 */
export const podEgressPolicy = (inboundTcpPorts: ReadonlyArray<number> = []): EgressPolicy => ({
  ...sidecarOnly(inboundTcpPorts),
  unprivilegedPortStart: 0,
})

/** The policy is not acceptable data. */
export class EgressPolicyInvalid extends Data.TaggedError("EgressPolicyInvalid")<{
  readonly reason: string
}> {
  override get message() {
    return `egress policy invalid: ${this.reason}`
  }
}

/** `nft -f -` refused the ruleset or could not run in the namespace. */
export class EgressApplyFailed extends Data.TaggedError("EgressApplyFailed")<{
  readonly target: string
  readonly table: string
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `cannot apply nftables table inet ${this.table} in ${this.target}: ${this.reason}; fix: ${this.hint}`
  }
}

/** The ruleset read back from the namespace is not the one applied. */
export class EgressVerifyFailed extends Data.TaggedError("EgressVerifyFailed")<{
  readonly target: string
  readonly table: string
  readonly problem: string
}> {
  override get message() {
    return `nftables table inet ${this.table} in ${this.target} does not match the policy: ${this.problem}`
  }
}

export type EgressError = EgressPolicyInvalid | EgressApplyFailed | EgressVerifyFailed

const set = (values: ReadonlyArray<number>) => `{ ${[...new Set(values)].join(", ")} }`

/** Neighbour discovery: without it the guest's IPv6 (SLAAC, next-hop resolution) stops working. */
const NDP_OUT = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept"
const NDP_IN =
  "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, nd-redirect } accept"

export interface RenderedRules {
  readonly output: ReadonlyArray<string>
  readonly input: ReadonlyArray<string>
}

/**
 * The chains that keep loopback out of connection tracking: hooked at the `raw` priority (-300,
 * before conntrack's -200), accepting everything, one `notrack` rule each.
 */
const UNTRACKED_LOOPBACK: ReadonlyArray<{
  readonly name: string
  readonly hook: "output" | "prerouting"
  readonly rule: string
}> = [
  { name: "loopback_output", hook: "output", rule: 'oifname "lo" notrack' },
  { name: "loopback_prerouting", hook: "prerouting", rule: 'iifname "lo" notrack' },
]
/** nftables' number for the `raw` priority. */
const RAW_PRIORITY = -300

export const egressRules = (policy: EgressPolicy): RenderedRules => ({
  output: [
    'oifname "lo" accept',
    "ct state established,related accept",
    NDP_OUT,
    ...(policy.allowedUids.length > 0 ? [`meta skuid ${set(policy.allowedUids)} accept`] : []),
  ],
  input: [
    'iifname "lo" accept',
    "ct state established,related accept",
    NDP_IN,
    ...(policy.inboundTcpPorts.length > 0
      ? [`tcp dport ${set(policy.inboundTcpPorts)} ct state new accept`]
      : []),
    ...(policy.inboundUdpPorts.length > 0
      ? [`udp dport ${set(policy.inboundUdpPorts)} accept`]
      : []),
  ],
})

/**
 * The `nft -f` script. It declares, flushes by deletion and recreates the table in one
 * transaction, so applying twice replaces rather than appends, and a failure changes nothing.
 */
export const renderEgressRuleset = (policy: EgressPolicy): string => {
  const rules = egressRules(policy)
  const chain = (
    name: string,
    hook: string,
    body: ReadonlyArray<string>,
    head = "priority filter; policy drop;",
  ) =>
    [
      `  chain ${name} {`,
      `    type filter hook ${hook} ${head}`,
      ...body.map((r) => `    ${r}`),
      "  }",
    ].join("\n")
  return [
    `table inet ${policy.table}`,
    `delete table inet ${policy.table}`,
    `table inet ${policy.table} {`,
    ...UNTRACKED_LOOPBACK.map((c) =>
      chain(c.name, c.hook, [c.rule], "priority raw; policy accept;"),
    ),
    chain("output", "output", rules.output),
    chain("input", "input", rules.input),
    "}",
    "",
  ].join("\n")
}

// --- read back --------------------------------------------------------------------------------

interface NftChain {
  readonly name: string
  readonly hook?: string
  readonly prio?: number
  readonly policy?: string
}
interface NftLeft {
  readonly meta?: { readonly key?: string }
  readonly payload?: { readonly protocol?: string; readonly field?: string }
}
interface NftMatch {
  readonly left: NftLeft
  readonly right: unknown
}
const setValues = (right: unknown): ReadonlyArray<number> =>
  typeof right === "number"
    ? [right]
    : Array.isArray((right as { set?: unknown })?.set)
      ? ((right as { set: ReadonlyArray<unknown> }).set.filter(
          (v) => typeof v === "number",
        ) as ReadonlyArray<number>)
      : []
interface NftRule {
  readonly chain: string
  readonly expr?: ReadonlyArray<unknown>
}

/**
 * Compares `nft -j list table` output with the policy: both filter chains hooked with policy drop,
 * the expected number of rules in each, the UID and port sets present, and loopback's two
 * untracked chains (raw priority, one `notrack` rule each).
 */
export const verifyRuleset = (policy: EgressPolicy, json: string): string | undefined => {
  let items: ReadonlyArray<Record<string, unknown>>
  try {
    items = (JSON.parse(json) as { nftables: ReadonlyArray<Record<string, unknown>> }).nftables
  } catch {
    return "nft did not print JSON"
  }
  const chains = items.flatMap((i) => (i.chain ? [i.chain as NftChain] : []))
  const rules = items.flatMap((i) => (i.rule ? [i.rule as NftRule] : []))
  const expected = egressRules(policy)
  for (const [name, hook, body] of [
    ["output", "output", expected.output],
    ["input", "input", expected.input],
  ] as const) {
    const c = chains.find((x) => x.name === name)
    if (c === undefined) return `chain ${name} missing`
    if (c.hook !== hook || c.policy !== "drop") {
      return `chain ${name} is hook ${c.hook} policy ${c.policy}, expected hook ${hook} policy drop`
    }
    const count = rules.filter((r) => r.chain === name).length
    if (count !== body.length) return `chain ${name} has ${count} rules, expected ${body.length}`
  }
  for (const { name, hook } of UNTRACKED_LOOPBACK) {
    const c = chains.find((x) => x.name === name)
    if (c === undefined) return `chain ${name} missing (loopback would be tracked by conntrack)`
    if (c.hook !== hook || c.prio !== RAW_PRIORITY || c.policy !== "accept") {
      return `chain ${name} is hook ${c.hook} priority ${c.prio} policy ${c.policy}, expected hook ${hook} priority ${RAW_PRIORITY} policy accept`
    }
    const body = rules.filter((r) => r.chain === name)
    const untracks =
      body.length === 1 && (body[0]!.expr ?? []).some((e) => Object.hasOwn(e as object, "notrack"))
    if (!untracks) return `chain ${name} does not hold one notrack rule`
  }
  const checks: ReadonlyArray<
    readonly [string, string, (left: NftLeft) => boolean, ReadonlyArray<number>]
  > = [
    ["output", "UIDs", (l) => l.meta?.key === "skuid", policy.allowedUids],
    [
      "input",
      "TCP ports",
      (l) => l.payload?.protocol === "tcp" && l.payload.field === "dport",
      policy.inboundTcpPorts,
    ],
    [
      "input",
      "UDP ports",
      (l) => l.payload?.protocol === "udp" && l.payload.field === "dport",
      policy.inboundUdpPorts,
    ],
  ]
  for (const [chain, what, isLeft, wanted] of checks) {
    const found = rules
      .filter((r) => r.chain === chain)
      .flatMap((r) => r.expr ?? [])
      .flatMap((e) => {
        const m = (e as { match?: NftMatch }).match
        return m !== undefined && isLeft(m.left) ? [setValues(m.right)] : []
      })
    const expected = [...new Set(wanted)].sort((a, b) => a - b)
    const actual = found.flat().sort((a, b) => a - b)
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      return `${what} in chain ${chain} are [${actual.join(", ")}], expected [${expected.join(", ")}]`
    }
  }
  return undefined
}
