/**
 * A NAT router for simulated hosts: a namespace with one leg (`wan`) on the switch's bridge at a
 * switch-subnet address, and a bridge of its own (`br0`, same name as the switch's so that
 * attachHost serves both) for the hosts behind it on a private /24. Outbound connections from
 * behind it are masqueraded to the router's address; nothing from the switch side gets in unless
 * it answers a connection from inside (no port forwarding), as with a home or cloud NAT. The
 * private subnet is routable only inside the router and the hosts behind it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inNetns, must } from "./exec"
import { BRIDGE, createNetns } from "./Network"

const NAT_TABLE = "beemesh_nat"

export interface NatRouter {
  readonly netns: string
  /** The router's address on the switch: what peers see as the source of NATed hosts. */
  readonly publicAddress: string
  /** First three octets of the private /24; the router is .1, the gateway of the hosts. */
  readonly privateSubnet: string
}

/** The router's rules: masquerade what leaves by `wan`, forward inbound only for what it answers. */
export const natRules = (privateSubnet: string) =>
  [
    `table ip ${NAT_TABLE} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    ip saddr ${privateSubnet}.0/24 oifname "wan" masquerade`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy drop;",
    "    ct state established,related accept",
    `    iifname "${BRIDGE}" oifname "wan" accept`,
    "  }",
    "}",
    "",
  ].join("\n")

const ip = (netns: string, ...args: ReadonlyArray<string>) => must(inNetns(netns, ["ip", ...args]))

/** Creates the router namespace, wires `wan` to the switch's bridge and turns NAT on. */
export const createNatRouter = async (
  switchNetns: string,
  router: NatRouter,
  switchPort: string,
): Promise<void> => {
  const { netns } = router
  await createNetns(netns)
  await ip(
    switchNetns,
    "link",
    "add",
    switchPort,
    "type",
    "veth",
    "peer",
    "name",
    "wan",
    "netns",
    netns,
  )
  await ip(switchNetns, "link", "set", switchPort, "master", BRIDGE, "up")
  await ip(netns, "addr", "add", `${router.publicAddress}/24`, "dev", "wan")
  await ip(netns, "link", "set", "wan", "up")
  await ip(netns, "link", "add", BRIDGE, "type", "bridge")
  await ip(netns, "addr", "add", `${router.privateSubnet}.1/24`, "dev", BRIDGE)
  await ip(netns, "link", "set", BRIDGE, "up")
  // Per namespace: /proc/sys/net belongs to the namespace of the process that writes it.
  await must(inNetns(netns, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]))
  const dir = mkdtempSync(join(tmpdir(), "beemesh-nat-"))
  try {
    writeFileSync(join(dir, "nat.nft"), natRules(router.privateSubnet))
    await must(inNetns(netns, ["nft", "-f", join(dir, "nat.nft")]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Sends everything a host behind the router does not know a route for to the router. */
export const routeViaRouter = (hostNetns: string, router: NatRouter) =>
  ip(hostNetns, "route", "add", "default", "via", `${router.privateSubnet}.1`)
