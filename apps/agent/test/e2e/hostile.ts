/**
 * A hostile app for the adversarial e2e tests: busybox-static images (built offline) whose command
 * tries every way out of its pod that a root process, a setuid binary, an image USER of 1337 or a
 * user namespace of its own could take, plus raw sockets and tampering with the sidecar; each
 * attempt prints one line `ATTACK <name> reached|blocked (why)`. Targets are listeners the test
 * starts: by default on the host loopback, reached through slirp4netns (10.0.2.2 and fd00::2);
 * on another simulated host with `attackEnv` (its addresses, and a UDP port for the UDP routes).
 */
import { createServer, type Server, type Socket } from "node:net"
import { build } from "../../demo/images"

export const HOSTILE_IMAGE = "localhost/beemesh-test/hostile:1"
export const HOSTILE_USER1337_IMAGE = "localhost/beemesh-test/hostile-user1337:1"

const PASSWD = `root:x:0:0:root:/:/bin/sh
sidecar:x:1337:1337:same uid as the sidecar:/:/bin/sh
www:x:101:101:worker:/:/bin/sh
`

/** Runs as the container's own process (podman exec cannot enter an app's user namespace). */
export const ATTACK_SCRIPT = `#!/bin/busybox sh
P="$ATTACK_PORT"
U="$ATTACK_UDP_PORT"
V4="\${ATTACK_V4:-10.0.2.2}"
V6="\${ATTACK_V6:-fd00::2}"
B=/bin/busybox
GET="$B timeout 3 $B wget -q -O /dev/null"
# A UDP round trip: the listener answers a TFTP read request with the whole (one-block) file.
TFTP="$B timeout 3 $B tftp -g -r probe -l /dev/null"
try() {
  name="$1"; shift
  if out=$("$@" 2>&1); then echo "ATTACK $name reached"
  else echo "ATTACK $name blocked ($(echo "$out" | $B tr '\\n' ' ' | $B cut -c1-90))"; fi
}
# The guest's IPv6 address arrives a few seconds after start: an attempt before it proves nothing.
i=0; while ! $B grep -q '^fd00' /proc/net/if_inet6 && [ $i -lt 40 ]; do $B sleep 0.5; i=$((i+1)); done
uid=$($B id -u)
echo "ATTACK-UID $uid"
# Named with busybox's prefix, or busybox takes the name for an unknown applet and runs nothing.
echo "ATTACK-SUID-EUID $(/bin/busybox-suid1337 id -u)"
for url in "http://$V4:$P/" "http://[$V6]:$P/"; do
  try "plain-uid-$uid $url" $GET "$url"
  try "own-userns-root $url" $B unshare -U -r $GET "$url"
  if [ "$uid" = 0 ]; then
    try "setuid-1337 $url" $B su -s /bin/sh sidecar -c "$GET $url"
    try "setuid-binary-1337 $url" $B timeout 3 /bin/busybox-suid1337 wget -q -O /dev/null "$url"
    try "userns-onto-1337 $url" $B su -s /bin/sh sidecar -c "$B unshare -U -r $GET $url"
  else
    try "userns-onto-$uid $url" $B unshare -U -r $GET "$url"
  fi
done
for host in \${U:+"$V4" "$V6"}; do
  try "udp-plain-uid-$uid $host" $TFTP "$host" "$U"
  try "udp-own-userns-root $host" $B unshare -U -r $TFTP "$host" "$U"
  if [ "$uid" = 0 ]; then
    try "udp-setuid-1337 $host" $B su -s /bin/sh sidecar -c "$TFTP $host $U"
    try "udp-setuid-binary-1337 $host" $B timeout 3 /bin/busybox-suid1337 tftp -g -r probe -l /dev/null "$host" "$U"
    try "udp-userns-onto-1337 $host" $B su -s /bin/sh sidecar -c "$B unshare -U -r $TFTP $host $U"
  else
    try "udp-userns-onto-$uid $host" $B unshare -U -r $TFTP "$host" "$U"
  fi
done
try "raw-icmp" $B ping -c 1 -W 2 "$V4"
try "raw-icmp6" $B ping6 -c 1 -W 2 "$V6"
try "raw-icmp-own-userns" $B unshare -U -r $B ping -c 1 -W 2 "$V4"
try "packet-arping" $B arping -c 1 -w 2 -I tap0 10.0.2.2
try "packet-udhcpc" $B udhcpc -i tap0 -n -q -t 1 -T 1 -s /bin/true
# A timeout's watcher outlives a command that failed at once by up to 1 s: let the attempts'
# helpers end, so that signalling "every process" below counts only processes the app did not start.
$B sleep 1.5
$B ps -o pid,ppid,user,args | $B sed 's/^/ATTACK-PS /'
try "write-etc-hosts" $B sh -c 'echo "10.0.2.99 host.containers.internal" >> /etc/hosts'
try "sysctl-port-start" $B sh -c 'echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start'
try "see-sidecar-process" $B sh -c 'cat /proc/[0-9]*/cmdline | tr "\\0" " " | grep -q "[n]ode"'
try "read-sidecar-token" $B sh -c 'cat /proc/[0-9]*/environ | tr "\\0" "\\n" | grep -q "[B]EEMESH_POD_TOKEN"'
try "read-sidecar-mesh-key" $B sh -c 'cat /proc/[0-9]*/environ | tr "\\0" "\\n" | grep -q "[B]EEMESH_MESH_KEY"'
try "signal-every-process" $B kill -KILL -1
echo "ATTACK-PIDS $($B ls /proc | $B grep -E '^[0-9]+$' | $B tr '\\n' ' ')"
echo "ATTACK done"
trap 'exit 0' TERM
while true; do $B sleep 1; done
`

/** Builds the hostile images (root, and USER 1337) into root's Podman. */
export const buildHostileImages = () => {
  build(
    HOSTILE_IMAGE,
    {
      "bin/busybox": { copyFrom: "/bin/busybox", mode: 0o755 },
      "bin/busybox-suid1337": { copyFrom: "/bin/busybox", mode: 0o755 },
      "bin/sh": { copyFrom: "/bin/busybox", mode: 0o755 },
      "bin/true": { copyFrom: "/bin/busybox", mode: 0o755 },
      "etc/passwd": { content: PASSWD },
      "etc/group": { content: "root:x:0:\nsidecar:x:1337:\nwww:x:101:\n" },
      "attack.sh": { content: ATTACK_SCRIPT, mode: 0o755 },
    },
    `FROM scratch
COPY bin/ /bin/
COPY etc/ /etc/
COPY attack.sh /attack.sh
RUN ["/bin/busybox", "chown", "1337:1337", "/bin/busybox-suid1337"]
RUN ["/bin/busybox", "chmod", "4755", "/bin/busybox-suid1337"]
ENTRYPOINT ["/bin/busybox", "sh", "/attack.sh"]
`,
  )
  build(
    HOSTILE_USER1337_IMAGE,
    {},
    `FROM ${HOSTILE_IMAGE}
USER 1337
`,
  )
  return [HOSTILE_IMAGE, HOSTILE_USER1337_IMAGE]
}

/**
 * The environment that points the attacks at listeners on another host: TCP (and UDP, when a
 * port is given) at its IPv4 and IPv6 addresses, instead of the host loopback through slirp4netns.
 */
export const attackEnv = (target: {
  readonly v4: string
  readonly v6: string
  readonly tcpPort: number
  readonly udpPort?: number
}) => ({
  ATTACK_PORT: String(target.tcpPort),
  ATTACK_V4: target.v4,
  ATTACK_V6: target.v6,
  ...(target.udpPort === undefined ? {} : { ATTACK_UDP_PORT: String(target.udpPort) }),
})

/** The attack lines of a container's log: name → outcome. */
export const attackOutcomes = (logs: string) =>
  new Map(
    [...logs.matchAll(/^ATTACK (\S+(?: \S+)?) (reached|blocked.*)$/gm)].map((m) => [m[1]!, m[2]!]),
  )

const listenOn = (host: string, port: number, count: () => void) =>
  new Promise<Server>((resolve, reject) => {
    const server = createServer((socket: Socket) => {
      count()
      socket.once("data", () =>
        socket.end("HTTP/1.0 200 OK\r\nContent-Length: 21\r\n\r\nreached-test-listener"),
      )
      socket.on("error", () => undefined)
    })
    server.once("error", reject)
    server.listen(port, host, () => resolve(server))
  })

/**
 * HTTP listeners on the host loopback, 127.0.0.1 and ::1 on one port, counting the connections
 * they accepted (slirp4netns maps 10.0.2.2 and fd00::2 to them).
 */
export const countingListeners = async () => {
  let connections = 0
  const v4 = await listenOn("127.0.0.1", 0, () => connections++)
  const address = v4.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  const v6 = await listenOn("::1", port, () => connections++)
  return { servers: [v4, v6], port, connections: () => connections }
}
