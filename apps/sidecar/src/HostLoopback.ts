/**
 * A provider advertised on the host's loopback (`/ip4/127.x.x.x/tcp/<published port>`, as an agent
 * announces pods on its own host) is not reachable at that address from inside a pod: there,
 * 127.0.0.1 is the pod's own loopback. slirp4netns with allow_host_loopback maps the host's
 * loopback to the CIDR's gateway (10.0.2.2 by default), which Podman names
 * host.containers.internal; such addresses are dialled there instead.
 */
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import type { HostLoopback } from "./SidecarConfig"

const LOOPBACK = /^\/ip4\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}(\/.*)?$/

/** The IPv4 address /etc/hosts gives host.containers.internal, if any. */
export const hostLoopbackFromHosts = (hosts: string): string | undefined => {
  for (const line of hosts.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/)
    if (
      address !== undefined &&
      /^\d{1,3}(\.\d{1,3}){3}$/.test(address) &&
      names.includes("host.containers.internal")
    )
      return address
  }
  return undefined
}

/** `/ip4/127.0.0.1/tcp/40123` → `/ip4/<hostLoopback>/tcp/40123`; other addresses unchanged. */
export const rewriteLoopback = (multiaddr: string, hostLoopback: string | undefined): string => {
  if (hostLoopback === undefined) return multiaddr
  const m = LOOPBACK.exec(multiaddr)
  return m === null ? multiaddr : `/ip4/${hostLoopback}${m[1] ?? ""}`
}

/** Settles the configured value: "auto" reads /etc/hosts once. */
export const resolveHostLoopback = (
  setting: HostLoopback,
  hostsFile = "/etc/hosts",
): Effect.Effect<string | undefined> => {
  switch (setting._tag) {
    case "None":
      return Effect.succeed(undefined)
    case "Address":
      return Effect.succeed(setting.address)
    case "Auto":
      return Effect.promise(() =>
        readFile(hostsFile, "utf8").then(hostLoopbackFromHosts, () => undefined),
      )
  }
}
