import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import {
  EgressPolicy,
  egressRules,
  podEgressPolicy,
  renderEgressRuleset,
  sidecarOnly,
  verifyRuleset,
} from "./EgressPolicy.js"

// `nft -j list table inet beemesh_egress` after applying the policy below (nft 1.0.6).
const listed = readFileSync(new URL("./testdata/nft-list-inet.json", import.meta.url), "utf8")
const policy = { ...sidecarOnly([8080, 9000]), allowedUids: [1337, 0] }

describe("EgressPolicy", () => {
  it("decodes with the sidecar-only defaults", () => {
    expect(Schema.decodeUnknownSync(EgressPolicy)({})).toEqual(sidecarOnly())
    expect(Schema.decodeUnknownSync(EgressPolicy)({})).toEqual({
      allowedUids: [1337],
      inboundTcpPorts: [],
      inboundUdpPorts: [],
      table: "beemesh_egress",
    })
  })

  it("a pod policy adds port start 0 to the sidecar-only rules; the sysctl is bounded", () => {
    expect(podEgressPolicy([8080])).toEqual({ ...sidecarOnly([8080]), unprivilegedPortStart: 0 })
    expect(renderEgressRuleset(podEgressPolicy([8080]))).toBe(
      renderEgressRuleset(sidecarOnly([8080])),
    )
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ unprivilegedPortStart: -1 })).toThrow()
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ unprivilegedPortStart: 65536 })).toThrow()
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ unprivilegedPortStart: 1.5 })).toThrow()
  })

  it("refuses bad ports, UIDs and table names", () => {
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ inboundTcpPorts: [0] })).toThrow()
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ inboundTcpPorts: [65536] })).toThrow()
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ allowedUids: [-1] })).toThrow()
    expect(() => Schema.decodeUnknownSync(EgressPolicy)({ table: "x; flush ruleset" })).toThrow()
  })

  it("renders one atomic script: declare, delete, recreate, both chains dropping by default", () => {
    const script = renderEgressRuleset(policy)
    expect(script.split("\n").slice(0, 3)).toEqual([
      "table inet beemesh_egress",
      "delete table inet beemesh_egress",
      "table inet beemesh_egress {",
    ])
    expect(script).toContain("type filter hook output priority filter; policy drop;")
    expect(script).toContain("type filter hook input priority filter; policy drop;")
    expect(script).toContain("meta skuid { 1337, 0 } accept")
    expect(script).toContain("tcp dport { 8080, 9000 } ct state new accept")
    expect(script).toContain('oifname "lo" accept')
    expect(script).toContain("ct state established,related accept")
  })

  it("keeps loopback out of connection tracking, ahead of conntrack, and nothing else", () => {
    const script = renderEgressRuleset(policy)
    for (const [hook, rule] of [
      ["output", 'oifname "lo" notrack'],
      ["prerouting", 'iifname "lo" notrack'],
    ] as const) {
      const chain = new RegExp(
        `chain loopback_${hook} \\{\\n\\s+type filter hook ${hook} priority raw; policy accept;\\n\\s+${rule}\\n\\s+\\}`,
      )
      expect(script).toMatch(chain)
    }
    expect(script.match(/notrack/g)).toHaveLength(2)
  })

  it("omits allow rules that have nothing to allow", () => {
    const rules = egressRules({ ...sidecarOnly(), allowedUids: [] })
    expect(rules.output.some((r) => r.includes("skuid"))).toBe(false)
    expect(rules.input.some((r) => r.includes("dport"))).toBe(false)
  })

  it("accepts the ruleset nft lists back for the same policy", () => {
    expect(verifyRuleset(policy, listed)).toBeUndefined()
  })

  it("notices a listed ruleset that differs from the policy", () => {
    expect(verifyRuleset({ ...policy, allowedUids: [1337] }, listed)).toMatch(
      /UIDs in chain output/,
    )
    expect(verifyRuleset({ ...policy, inboundTcpPorts: [8080] }, listed)).toMatch(/TCP ports/)
    expect(verifyRuleset({ ...policy, inboundUdpPorts: [53] }, listed)).toMatch(/rules, expected/)
    const accepting = listed.replace(/"policy": "drop"/, '"policy": "accept"')
    expect(verifyRuleset(policy, accepting)).toMatch(
      /policy accept, expected hook output policy drop/,
    )
    expect(verifyRuleset(policy, "not json")).toBe("nft did not print JSON")
  })

  it("notices loopback's untracked chains missing or changed", () => {
    type Item = { chain?: { name?: string }; rule?: { chain?: string } }
    const parsed = JSON.parse(listed) as { nftables: Array<Item> }
    const without = (drop: (item: Item) => boolean) =>
      JSON.stringify({ nftables: parsed.nftables.filter((i) => !drop(i)) })
    const inChain = (name: string) => (i: Item) => i.chain?.name === name || i.rule?.chain === name
    expect(verifyRuleset(policy, without(inChain("loopback_output")))).toMatch(
      /chain loopback_output missing \(loopback would be tracked by conntrack\)/,
    )
    expect(
      verifyRuleset(
        policy,
        without((i) => i.rule?.chain === "loopback_prerouting"),
      ),
    ).toMatch(/chain loopback_prerouting does not hold one notrack rule/)
    const late = listed.replace(/"prio": -300/, '"prio": 0')
    expect(verifyRuleset(policy, late)).toMatch(
      /chain loopback_output is hook output priority 0 policy accept, expected hook output priority -300/,
    )
  })
})
