/**
 * The simulated network: a switch namespace holding a Linux bridge, and one namespace per host
 * joined to it by a veth pair (`eth0` in the host, a port named after the host on the bridge).
 * The bridge lives in its own namespace, not the machine's: nothing of the test subnet is routable
 * from the root namespace, the machine's own firewall (and br_netfilter, where loaded) never sees
 * the frames, and partitions are bridge-family nftables rules that only this namespace holds.
 * A NAT router (NatRouter.ts) has one leg on this bridge and a bridge of its own for the hosts
 * behind it, which attachHost wires the same way.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inNetns, must, run } from "./exec"

export const BRIDGE = "br0"
const PARTITION_TABLE = "beemesh_partition"

export const netnsPath = (netns: string) => `/run/netns/${netns}`

const ip = (netns: string, ...args: ReadonlyArray<string>) => must(inNetns(netns, ["ip", ...args]))

/** A fresh namespace with its loopback up. */
export const createNetns = async (netns: string) => {
  await must(["ip", "netns", "add", netns])
  await ip(netns, "link", "set", "lo", "up")
}

export const deleteNetns = async (netns: string) => {
  await run(["ip", "netns", "delete", netns])
}

/** The switch: a namespace with a bridge that forwards between the hosts' ports. */
export const createSwitch = async (switchNetns: string) => {
  await createNetns(switchNetns)
  await ip(switchNetns, "link", "add", BRIDGE, "type", "bridge")
  await ip(switchNetns, "link", "set", BRIDGE, "up")
}

/**
 * Creates the host's namespace and wires it to the bridge with `address/prefix` on its eth0, and
 * an IPv6 `address/prefix` too when given (without duplicate address detection, which would hold
 * the address back for seconds on a link where only the harness assigns addresses).
 */
export const attachHost = async (
  switchNetns: string,
  hostNetns: string,
  port: string,
  cidr: string,
  cidr6?: string,
) => {
  await createNetns(hostNetns)
  await ip(
    switchNetns,
    "link",
    "add",
    port,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    hostNetns,
  )
  await ip(switchNetns, "link", "set", port, "master", BRIDGE, "up")
  await ip(hostNetns, "addr", "add", cidr, "dev", "eth0")
  if (cidr6 !== undefined) await ip(hostNetns, "-6", "addr", "add", cidr6, "dev", "eth0", "nodad")
  await ip(hostNetns, "link", "set", "eth0", "up")
}

/** Takes a host's switch port down (its cable pulled: peers see silence, not resets) or up. */
export const setPort = (switchNetns: string, port: string, up: boolean) =>
  ip(switchNetns, "link", "set", port, up ? "up" : "down")

/**
 * Replaces the partition rules: IPv4 between each pair of addresses is dropped in both directions
 * at the bridge. An empty list heals every partition.
 */
export const setPartitions = async (
  switchNetns: string,
  blocked: ReadonlyArray<readonly [string, string]>,
) => {
  const rules = blocked.flatMap(([a, b]) => [
    `    ip saddr ${a} ip daddr ${b} drop`,
    `    ip saddr ${b} ip daddr ${a} drop`,
  ])
  // Declaring then deleting makes the replacement atomic whether or not the table exists.
  const text = [
    `table bridge ${PARTITION_TABLE}`,
    `delete table bridge ${PARTITION_TABLE}`,
    ...(rules.length === 0
      ? []
      : [
          `table bridge ${PARTITION_TABLE} {`,
          "  chain forward {",
          "    type filter hook forward priority 0; policy accept;",
          ...rules,
          "  }",
          "}",
        ]),
    "",
  ].join("\n")
  const dir = mkdtempSync(join(tmpdir(), "beemesh-partition-"))
  try {
    writeFileSync(join(dir, "rules.nft"), text)
    await must(inNetns(switchNetns, ["nft", "-f", join(dir, "rules.nft")]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
