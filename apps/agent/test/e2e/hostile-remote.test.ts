/**
 * A hostile app against listeners on another host, rootful and rootless: the test's own TCP and
 * UDP listeners on host B's IPv4 and IPv6 addresses, and on host A (rootful Podman) and host R
 * (agent and Podman rootless, as the unprivileged `beemesh-test` user) a pod whose apps try every
 * route of hostile.ts (root changing to uid 1337, a setuid-1337 binary, an image whose USER is
 * 1337, user namespaces mapped onto 1337, raw and packet sockets, plain connects) at them. Every
 * attempt fails and B's listeners count nothing; then the sidecar of that same pod reaches B on
 * both protocols and both families, so "blocked" is proven against a listener that answers.
 */
import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { CountingListener } from "../support/hosts/Listener"
import { type SimulatedHost, SimulatedHosts } from "../support/hosts/SimulatedHosts"
import { sweep } from "../support/hosts/Sweeper"
import { waitFor } from "../support/hosts/wait"
import { attackEnv, attackOutcomes, HOSTILE_IMAGE, HOSTILE_USER1337_IMAGE } from "./hostile"
import { AGENT_DIR, SIDECAR_IMAGE } from "./support"

const ROOTLESS_USER = "beemesh-test"
const ns = `hr-${randomBytes(3).toString("hex")}`
const pod = `bm-${ns}-hostile`
let cluster: SimulatedHosts
let b: SimulatedHost
const attackers: Record<"rootful" | "rootless", SimulatedHost | undefined> = {
  rootful: undefined,
  rootless: undefined,
}
let listener: CountingListener

const hostileManifest = (env: Readonly<Record<string, string>>) => {
  const vars = Object.entries(env)
    .map(([name, value]) => `{ name: ${name}, value: "${value}" }`)
    .join(", ")
  return `
apiVersion: v1
kind: Pod
metadata: { name: hostile, namespace: ${ns} }
spec:
  containers:
    - name: root
      image: ${HOSTILE_IMAGE}
      env: [${vars}]
    - name: user1337
      image: ${HOSTILE_USER1337_IMAGE}
      env: [${vars}]
`
}

/** Runs Node in the pod's sidecar as the sidecar's user; resolves to what the script printed. */
const inSidecar = (from: SimulatedHost, script: string) =>
  from.podman("exec", "--user", "1337", `${pod}-sidecar`, "/usr/local/bin/node", "-e", script)

const tcpGet = (from: SimulatedHost, url: string) =>
  inSidecar(
    from,
    `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(4000) }).then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(String(e.cause ?? e)); process.exit(1) })`,
  )

/** One datagram to host:port and the answer's payload past the TFTP header. */
const udpAsk = (from: SimulatedHost, host: string, port: number) =>
  inSidecar(
    from,
    `const s = require("node:dgram").createSocket(${JSON.stringify(host.includes(":") ? "udp6" : "udp4")}); setTimeout(() => { console.error("no answer in 4 s"); process.exit(1) }, 4000).unref(); s.on("message", (m) => { process.stdout.write(m.subarray(4).toString()); s.close() }); s.send("sidecar", ${port}, ${JSON.stringify(host)})`,
  )

/** A public host's IPv6 address (hosts behind the NAT have none). */
const v6 = (host: SimulatedHost) => {
  if (host.address6 === undefined) throw new Error(`host ${host.name} has no IPv6 address`)
  return host.address6
}

beforeAll(async () => {
  await sweep()
  cluster = await SimulatedHosts.create({
    count: 2,
    images: [SIDECAR_IMAGE, HOSTILE_IMAGE, HOSTILE_USER1337_IMAGE],
  })
  ;[b, attackers.rootful] = cluster.hosts as [SimulatedHost, SimulatedHost]
  attackers.rootless = await cluster.addHost({ rootlessUser: ROOTLESS_USER })
  listener = await cluster.listen(b)
})

afterAll(async () => {
  await listener?.stop()
  await cluster?.collectLogs(join(AGENT_DIR, ".reports/hostile-remote")).catch(() => undefined)
  await cluster?.teardown()
})

describe("a hostile app on another host than the listeners", () => {
  it.each(["rootful", "rootless"] as const)(
    "(%s) reaches them by no route, TCP or UDP, IPv4 or IPv6, while its sidecar reaches each",
    async (mode) => {
      const a = attackers[mode]!
      expect(a.rootless).toBe(mode === "rootless")
      const before = listener.hits().length
      const env = attackEnv({
        v4: b.address,
        v6: v6(b),
        tcpPort: listener.port,
        udpPort: listener.port,
      })
      const response = await a.api("POST", "/v1/workloads", hostileManifest(env))
      expect([response.status, response.text]).toEqual([201, expect.any(String)])
      for (const [container, uid] of [
        ["root", "0"],
        ["user1337", "1337"],
      ] as const) {
        const logs = await waitFor(
          `the attacks of ${container} on ${a.name} to finish`,
          async () => {
            const out = await a.podman("logs", `${pod}-${container}`).catch(() => "")
            return out.includes("ATTACK done") ? out : undefined
          },
          180_000,
          1_000,
        )
        expect(logs).toContain(`ATTACK-UID ${uid}`)
        // The setuid binary does run as 1337 inside the app (the route is real, not a broken call).
        expect(logs).toContain("ATTACK-SUID-EUID 1337")
        const outcomes = attackOutcomes(logs)
        // Every route against B was tried, on TCP and UDP and both address families …
        const against = (protocol: "tcp" | "udp", address: string) =>
          [...outcomes.keys()].filter(
            (name) => name.startsWith("udp-") === (protocol === "udp") && name.includes(address),
          )
        const perTarget = uid === "0" ? 5 : 3
        for (const protocol of ["tcp", "udp"] as const)
          for (const address of [b.address, v6(b)])
            expect([container, protocol, address, against(protocol, address).length]).toEqual([
              container,
              protocol,
              address,
              perTarget,
            ])
        for (const raw of ["raw-icmp", "raw-icmp6", "raw-icmp-own-userns", "packet-arping"])
          expect([container, outcomes.has(raw)]).toEqual([container, true])
        // … and none got anywhere.
        const reached = [...outcomes].filter(([, outcome]) => !outcome.startsWith("blocked"))
        expect([container, reached]).toEqual([container, []])
      }
      expect(listener.hits().slice(before)).toEqual([])

      // The positive control: the same pod's sidecar reaches B's listeners, each protocol and family.
      expect(await tcpGet(a, `http://${b.address}:${listener.port}/`)).toBe("reached-test-listener")
      expect(await tcpGet(a, `http://[${v6(b)}]:${listener.port}/`)).toBe("reached-test-listener")
      expect(await udpAsk(a, b.address, listener.port)).toBe("reached-test-listener")
      expect(await udpAsk(a, v6(b), listener.port)).toBe("reached-test-listener")
      const hits = listener.hits().slice(before)
      for (const protocol of ["tcp", "udp"] as const)
        for (const [address, from] of [
          [b.address, a.address],
          [v6(b), v6(a)],
        ] as const)
          expect(hits).toContainEqual({ protocol, address, from: expect.stringContaining(from) })
    },
  )
})
