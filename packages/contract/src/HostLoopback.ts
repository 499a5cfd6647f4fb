/**
 * A provider advertised on its host's loopback (`/ip4/127.x.x.x/tcp/<published port>`, as an
 * agent announces the pods on its own host) cannot be dialled at that address from inside a pod:
 * there, 127.0.0.1 is the pod's own loopback. slirp4netns with allow_host_loopback maps the
 * host's loopback to the pod network's gateway (10.0.2.2 with the default CIDR), so the agent
 * hands such addresses to its pods with the gateway in place of the loopback address.
 */

const LOOPBACK = /^\/ip4\/127\.\d{1,3}\.\d{1,3}\.\d{1,3}(\/.*)?$/

/** `/ip4/127.0.0.1/tcp/40123` → `/ip4/<gateway>/tcp/40123`; other addresses unchanged. */
export const forPods = (multiaddr: string, gateway: string): string => {
  const m = LOOPBACK.exec(multiaddr)
  return m === null ? multiaddr : `/ip4/${gateway}${m[1] ?? ""}`
}
