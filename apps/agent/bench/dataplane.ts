/**
 * The data plane with real clients in real pods, against plain Podman with the same slirp4netns
 * options and published ports — what a user would run instead. On each side a client container runs
 * `hey` and `iperf3` against a server pod
 * (busybox httpd :80, a Node keep-alive server :8000, iperf3 -s :5201):
 *   beemesh: client pod → its sidecar's upstream port (127.0.0.1:9001-9003) → libp2p (Noise+Yamux)
 *            → the server pod's sidecar → the app. Both pods run on one agent, so the sidecars
 *            connect on the same-host path (their unix sockets, no slirp4netns), and the
 *            benchmark records the transport the client's sidecar reports (`meshTransport`);
 *   beemesh-tcp: the same client pod run by a second agent on this host, in the first agent's
 *            mesh (its own socket directory, so its sidecar cannot attribute the server's socket):
 *            its sidecar dials the server's published port, through both pods' slirp4netns — the
 *            path between pods of different hosts, and the path between all pods before the
 *            same-host path;
 *   plain:   client container → 10.0.2.2:<published port> (slirp4netns host loopback) → the app;
 *   with --forwarders, the floor of any Node sidecar on the same two paths: a bare Node forwarder
 *   (socket.pipe, no encryption, no multiplexing) in each of two plain Podman pods, in place of the
 *   sidecars:
 *   node-fwd: client → its pod's forwarder (127.0.0.1) → a unix socket in a host directory mounted
 *            into both forwarders → the server pod's forwarder → the app (the same-host path's route);
 *   node-fwd-tcp: client → its pod's forwarder → 10.0.2.2:<the server forwarder's published port>
 *            → the server pod's forwarder → the app (the TCP path's route, through both slirp4netns).
 * Every pod and container runs on the agent's default slirp4netns options, or with the Podman port
 * handler `--port-handler rootlesskit|slirp4netns` names (both agents and plain Podman alike).
 * Measured, rounds interleaved (the side that goes first alternates), medians of the rounds:
 *   - new connections: `hey -c 1 -disable-keepalive` rate and p50 (one TCP connection per request),
 *     and the same with 20 concurrent clients;
 *   - requests on an open connection: `hey -c 1` against the keep-alive server, p50 and p99 (hey
 *     reports them to 0.1 ms) and the mean time per request from its rate (one client, one request
 *     at a time: to the µs);
 *   - bulk: `iperf3 -t 5` throughput;
 *   - beemesh and forwarder sides: the CPU time both proxies (client and server sidecar, or the two
 *     forwarders) used per new connection and per keep-alive request, from /proc (the cost behind
 *     the rates on a host whose cores are shared).
 *   pnpm --filter @beemesh/agent bench:dataplane [-- --rounds 5 --port-handler slirp4netns --sidecar-image IMAGE --forwarders]
 * Prints a table and writes bench-results/dataplane.json.
 */
import { randomUUID } from "node:crypto"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { issueCertificate, loadKey, loadOrCreateKey, peerIdOfKey } from "@beemesh/p2p"
import { Effect } from "effect"
import {
  api,
  appExec,
  eventually,
  freePort,
  podman,
  requirePrerequisites,
  run,
  runAsync,
  startAgent,
} from "../test/e2e/support"
import { buildToolsImage, TOOLS_IMAGE } from "./dataplane/image"
import { agentNetworkArgs, plainNetworkFlag, podNetwork } from "./podNetwork"

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    rounds: { type: "string", default: "5" },
    // Another sidecar image for both agents (a build to compare; default: the agent's).
    "sidecar-image": { type: "string" },
    // Podman's port forwarder for every side (default: the agent's).
    "port-handler": { type: "string" },
    // Two more sides: bare Node forwarders in place of the sidecars, on both paths.
    forwarders: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
})
if (args.help) {
  console.log(
    [
      "pnpm --filter @beemesh/agent bench:dataplane [-- --rounds 5 --port-handler slirp4netns --sidecar-image IMAGE --forwarders]",
      "  --rounds N            rounds (every side in each, the first side alternating); medians reported (default 5)",
      "  --port-handler H      Podman's port forwarder for every side, rootlesskit|slirp4netns (default: the agent's)",
      "  --sidecar-image IMAGE another sidecar image for both agents (default: the agent's)",
      "  --forwarders          also bare Node forwarders in place of the sidecars, on both paths (the floor of a Node proxy)",
      "Prints a table and writes bench-results/dataplane.json.",
    ].join("\n"),
  )
  process.exit(0)
}
const ROUNDS = Number(args.rounds)
const ns = `dataplane-${process.pid}`
const LABEL = `io.beemesh.test.dataplane=${process.pid}`
/** The agents' pod network; the baseline runs on the same, as Podman's `--network` flag. */
const NETWORK = podNetwork(args["port-handler"])
const SIDECAR_IMAGE_ARGS =
  args["sidecar-image"] === undefined ? [] : ["--sidecar-image", args["sidecar-image"]]
const SLIRP = plainNetworkFlag(NETWORK)
const OUT = join(dirname(fileURLToPath(import.meta.url)), "../bench-results/dataplane.json")

const median = (values: ReadonlyArray<number>) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

/** The client pod (its app only sleeps: the benchmark runs hey and iperf3 in it). */
const clientManifest = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  annotations: { beemesh.io/upstreams: "web=9001,bulk=9002,keep=9003" }
spec:
  containers:
    - { name: app, image: ${TOOLS_IMAGE}, command: [/bin/busybox, sleep, "100000000"] }
`

const manifests = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: srv
  namespace: ${ns}
  annotations: { beemesh.io/services: "web=80,keep=8000,bulk=5201" }
spec:
  replicas: 1
  template:
    spec:
      containers:
        - { name: httpd, image: ${TOOLS_IMAGE}, command: [/bin/busybox, httpd, -f, -p, "80", -h, /www], ports: [{ containerPort: 80 }] }
        - { name: keep, image: ${TOOLS_IMAGE}, command: [/usr/local/bin/node, /bench/keepalive.mjs], ports: [{ containerPort: 8000 }] }
        - { name: iperf, image: ${TOOLS_IMAGE}, command: [/usr/bin/iperf3, -s, -p, "5201"], ports: [{ containerPort: 5201 }] }
---
${clientManifest("cli")}`

type SideName = "plain" | "beemesh" | "beemesh-tcp" | "node-fwd" | "node-fwd-tcp"

interface Side {
  readonly name: SideName
  readonly exec: (argv: ReadonlyArray<string>) => Promise<string>
  readonly web: string
  /** The keep-alive server's URL. */
  readonly keep: string
  readonly bulk: { readonly host: string; readonly port: number }
  /** The client sidecar's libp2p connections by transport (beemesh only). */
  readonly transport?: () => Promise<{ unix: number; tcp: number }>
  /** The PIDs of the client's and the server's proxies: sidecars or forwarders. */
  readonly sidecars?: () => { readonly client: number; readonly server: number }
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = Number(run("getconf", ["CLK_TCK"]).stdout.trim()) || 100

/** The CPU time (user and system, in µs) a process has used so far. */
const cpuUsOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // Fields after the command's name, which may hold spaces: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS
}

/**
 * Runs `work` (which makes `count` requests) and returns, with its result, the CPU both sidecars
 * used per request in µs (NaN without sidecars).
 */
const withSidecarCpu = async <A>(side: Side, count: number, work: () => Promise<A>) => {
  const pids = side.sidecars?.()
  const before = pids === undefined ? undefined : [cpuUsOf(pids.client), cpuUsOf(pids.server)]
  const result = await work()
  if (pids === undefined || before === undefined)
    return { result, clientUs: Number.NaN, serverUs: Number.NaN }
  return {
    result,
    clientUs: (cpuUsOf(pids.client) - before[0]!) / count,
    serverUs: (cpuUsOf(pids.server) - before[1]!) / count,
  }
}

/** hey's summary: requests/s and the latency distribution's percentiles, in ms. */
const parseHey = (out: string) => {
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const pct = (p: number) => Number(new RegExp(`${p}% in ([\\d.]+) secs`).exec(out)?.[1]) * 1000
  const errors = /Error distribution:([\s\S]*)/.exec(out)?.[1]?.trim()
  if (!Number.isFinite(rate)) throw new Error(`hey printed no rate:\n${out}`)
  if (errors !== undefined && errors !== "") throw new Error(`hey saw errors:\n${errors}`)
  return { rate, p50: pct(50), p99: pct(99) }
}

const measure = async (side: Side) => {
  const hey = async (extra: ReadonlyArray<string>) =>
    parseHey(await side.exec(["/usr/bin/hey", ...extra, side.web]))
  const newConn = await withSidecarCpu(side, 1000, () =>
    hey(["-n", "1000", "-c", "1", "-disable-keepalive"]),
  )
  const newConn20 = await hey(["-n", "2000", "-c", "20", "-disable-keepalive"])
  const keepAlive = await withSidecarCpu(side, 5000, async () =>
    parseHey(await side.exec(["/usr/bin/hey", "-n", "5000", "-c", "1", side.keep])),
  )
  const iperf = JSON.parse(
    await side.exec([
      "/usr/bin/iperf3",
      "-J",
      "-t",
      "5",
      "-c",
      side.bulk.host,
      "-p",
      String(side.bulk.port),
    ]),
  ) as { end: { sum_received: { bits_per_second: number } } }
  return {
    newConnRate: newConn.result.rate,
    newConnP50Ms: newConn.result.p50,
    newConn20Rate: newConn20.rate,
    newConn20P50Ms: newConn20.p50,
    keepAliveP50Ms: keepAlive.result.p50,
    keepAliveP99Ms: keepAlive.result.p99,
    // One client, one request at a time: the mean time per request, to the µs (hey's percentiles
    // are to 0.1 ms).
    keepAliveMeanMs: 1000 / keepAlive.result.rate,
    bulkMiBps: iperf.end.sum_received.bits_per_second / 8 / 2 ** 20,
    clientSidecarUsPerNewConn: newConn.clientUs,
    serverSidecarUsPerNewConn: newConn.serverUs,
    clientSidecarUsPerKeepAlive: keepAlive.clientUs,
    serverSidecarUsPerKeepAlive: keepAlive.serverUs,
  }
}
type Figures = Awaited<ReturnType<typeof measure>>

/** Three host ports on 127.0.0.1 for a pod to publish (web, keep-alive, bulk). */
const threePorts = async () => ({
  web: await freePort(),
  keep: await freePort(),
  bulk: await freePort(),
})

/**
 * A plain Podman pod `pod` with the same three server processes as the beemesh server pod, on the
 * benchmark's network, publishing `ports` (host:container pairs on 127.0.0.1).
 */
const serverPod = (pod: string, ports: ReadonlyArray<readonly [number, number]>) => {
  podman(
    "pod",
    "create",
    "--name",
    pod,
    "--label",
    LABEL,
    "--network",
    SLIRP,
    ...ports.flatMap(([host, container]) => ["-p", `127.0.0.1:${host}:${container}`]),
  )
  for (const argv of [
    ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"],
    ["/usr/local/bin/node", "/bench/keepalive.mjs"],
    ["/usr/bin/iperf3", "-s", "-p", "5201"],
  ])
    podman("run", "-d", "--pod", pod, "--label", LABEL, TOOLS_IMAGE, ...argv)
}

/** `podman exec` in the client container `client`, and a wait for the page at `url` through it. */
const plainClient = async (name: SideName, client: string, url: string) => {
  const exec = async (argv: ReadonlyArray<string>) => {
    const result = run("podman", ["exec", client, ...argv])
    if (result.status !== 0) throw new Error(`${name} ${argv.join(" ")}: ${result.stderr}`)
    return result.stdout
  }
  await eventually(`the ${name} server to answer`, async () =>
    (await exec(["/bin/busybox", "wget", "-q", "-O", "-", url]).catch(() => "")).includes("bench")
      ? true
      : undefined,
  )
  return exec
}

const SLEEP = ["/bin/busybox", "sleep", "100000000"]

const plainSide = async (): Promise<Side> => {
  const { web, keep, bulk } = await threePorts()
  serverPod(`bm-dataplane-srv-${process.pid}`, [
    [web, 80],
    [keep, 8000],
    [bulk, 5201],
  ])
  const client = `bm-dataplane-cli-${process.pid}`
  podman("run", "-d", "--name", client, "--label", LABEL, "--network", SLIRP, TOOLS_IMAGE, ...SLEEP)
  const url = `http://10.0.2.2:${web}/`
  const exec = await plainClient("plain", client, url)
  return {
    name: "plain",
    exec,
    web: url,
    keep: `http://10.0.2.2:${keep}/`,
    bulk: { host: "10.0.2.2", port: bulk },
  }
}

const pidOf = (container: string) => {
  const pid = Number(podman("inspect", container, "--format", "{{.State.Pid}}").trim())
  if (!(pid > 0)) throw new Error(`container ${container} does not run`)
  return pid
}

/**
 * Bare Node forwarders in place of the sidecars (`--forwarders`), in plain Podman pods on the same
 * network: the server pod's forwarder listens on unix sockets in `socketDir` (mounted into both
 * forwarders, as the agents mount theirs into sidecars) and on TCP ports its pod publishes; the
 * client pod's forwarder listens where the client sidecar would (127.0.0.1:9001-9003 for the unix
 * route, 9011-9013 for the TCP one). One forwarder process a pod, like one sidecar.
 */
const forwarderSides = async (socketDir: string): Promise<ReadonlyArray<Side>> => {
  const { web, keep, bulk } = await threePorts()
  const server = `bm-dataplane-fwdsrv-${process.pid}`
  serverPod(server, [
    [web, 7001],
    [keep, 7002],
    [bulk, 7003],
  ])
  const forwarder = (pod: string, name: string, routes: ReadonlyArray<string>) =>
    podman(
      "run",
      "-d",
      "--pod",
      pod,
      "--name",
      name,
      "--label",
      LABEL,
      "-v",
      `${socketDir}:/sock`,
      TOOLS_IMAGE,
      "/usr/local/bin/node",
      "/bench/forward.mjs",
      ...routes,
    )
  const apps = { web: "127.0.0.1:80", keep: "127.0.0.1:8000", bulk: "127.0.0.1:5201" }
  forwarder(server, `${server}-fwd`, [
    `/sock/web=${apps.web}`,
    `/sock/keep=${apps.keep}`,
    `/sock/bulk=${apps.bulk}`,
    `0.0.0.0:7001=${apps.web}`,
    `0.0.0.0:7002=${apps.keep}`,
    `0.0.0.0:7003=${apps.bulk}`,
  ])
  const clientPod = `bm-dataplane-fwdcli-${process.pid}`
  podman("pod", "create", "--name", clientPod, "--label", LABEL, "--network", SLIRP)
  const client = `${clientPod}-app`
  podman("run", "-d", "--pod", clientPod, "--name", client, "--label", LABEL, TOOLS_IMAGE, ...SLEEP)
  forwarder(clientPod, `${clientPod}-fwd`, [
    "127.0.0.1:9001=/sock/web",
    "127.0.0.1:9002=/sock/bulk",
    "127.0.0.1:9003=/sock/keep",
    `127.0.0.1:9011=10.0.2.2:${web}`,
    `127.0.0.1:9012=10.0.2.2:${bulk}`,
    `127.0.0.1:9013=10.0.2.2:${keep}`,
  ])
  const sidecars = () => ({ client: pidOf(`${clientPod}-fwd`), server: pidOf(`${server}-fwd`) })
  const side = async (name: "node-fwd" | "node-fwd-tcp", base: number): Promise<Side> => ({
    name,
    exec: await plainClient(name, client, `http://127.0.0.1:${base + 1}/`),
    web: `http://127.0.0.1:${base + 1}/`,
    keep: `http://127.0.0.1:${base + 3}/`,
    bulk: { host: "127.0.0.1", port: base + 2 },
    sidecars,
  })
  return [await side("node-fwd", 9000), await side("node-fwd-tcp", 9010)]
}

/** The server Deployment's (one) sidecar container. */
const serverSidecar = () => {
  const names = podman("ps", "--format", "{{.Names}}")
    .split("\n")
    .filter((n) => n.startsWith(`bm-${ns}-srv-`) && n.endsWith("-sidecar"))
  if (names.length !== 1) throw new Error(`expected one server sidecar, found: ${names.join(", ")}`)
  return names[0]!
}

/** Through the sidecars: `manifest` deploys (at least) the client pod `client` on `agent`. */
const meshSide = async (
  name: "beemesh" | "beemesh-tcp",
  agent: Awaited<ReturnType<typeof startAgent>>,
  manifest: string,
  client: string,
): Promise<Side> => {
  const posted = await api(agent, "POST", "/v1/workloads", manifest)
  if (posted.status !== 201) throw new Error(`deploy refused: ${JSON.stringify(posted.json)}`)
  const container = `bm-${ns}-${client}-app`
  const exec = async (argv: ReadonlyArray<string>) => {
    const result = await appExec(container, argv)
    if (result.status !== 0) throw new Error(`${name} ${argv.join(" ")}: ${result.stderr}`)
    return result.stdout
  }
  const url = "http://127.0.0.1:9001/"
  await eventually(
    `the server to answer ${client} through the sidecars`,
    async () =>
      (await exec(["/bin/busybox", "wget", "-q", "-O", "-", url]).catch(() => "")).includes("bench")
        ? true
        : undefined,
    180_000,
  )
  return {
    name,
    exec,
    web: url,
    keep: "http://127.0.0.1:9003/",
    bulk: { host: "127.0.0.1", port: 9002 },
    sidecars: () => ({
      client: pidOf(`bm-${ns}-${client}-sidecar`),
      server: pidOf(serverSidecar()),
    }),
    transport: async () => {
      const result = await runAsync("podman", [
        "exec",
        `bm-${ns}-${client}-sidecar`,
        "/usr/local/bin/node",
        "-e",
        'fetch("http://127.0.0.1:8081/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))',
      ])
      const count = (t: string) =>
        Number(
          new RegExp(
            `beemesh_sidecar_libp2p_connections_by_transport\\{transport="${t}"\\} (\\d+)`,
          ).exec(result.stdout)?.[1] ?? Number.NaN,
        )
      return { unix: count("unix"), tcp: count("tcp") }
    },
  }
}

/**
 * A second agent on this host, in the first one's mesh: its mesh key, a certificate from the first
 * agent's (self-certified) authority for an identity made here first, bootstrapped to it. An
 * agent that joins others without a certificate refuses to start.
 */
const startSecondAgent = async (
  first: Awaited<ReturnType<typeof startAgent>>,
  firstDir: string,
) => {
  const health = (await api(first, "GET", "/health")).json as {
    peerId: string
    multiaddrs: Array<string>
  }
  const address = health.multiaddrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/"))
  if (address === undefined) throw new Error(`the first agent listens on no loopback address`)
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-dataplane-b-"))
  const bootstrap = address.includes("/p2p/") ? address : `${address}/p2p/${health.peerId}`
  const authorityKey = await Effect.runPromise(loadKey(join(firstDir, "mesh-authority.key")))
  const identity = await Effect.runPromise(loadOrCreateKey(join(dataDir, "identity.key")))
  const certificateFile = join(dataDir, "agent.cert")
  const certificate = await Effect.runPromise(
    issueCertificate(authorityKey, {
      role: "agent",
      subject: peerIdOfKey(identity),
      serial: randomUUID(),
      notBefore: Date.now() - 60_000,
      notAfter: Date.now() + 24 * 60 * 60 * 1000,
    }),
  )
  writeFileSync(certificateFile, certificate, { mode: 0o600 })
  const agent = await startAgent(dataDir, await freePort(), undefined, [
    ...agentNetworkArgs(NETWORK),
    ...SIDECAR_IMAGE_ARGS,
    "--bootstrap",
    bootstrap,
    "--mesh-key",
    join(firstDir, "mesh.key"),
    "--mesh-authority",
    peerIdOfKey(authorityKey),
    "--certificate",
    certificateFile,
  ]).catch(async (error: unknown) => {
    await rm(dataDir, { recursive: true, force: true })
    throw error
  })
  return { agent, dataDir }
}

const main = async () => {
  requirePrerequisites()
  buildToolsImage()
  const dataDir = await mkdtemp(join(tmpdir(), "beemesh-dataplane-"))
  console.log(`pod network, every side: ${SLIRP}`)
  const agent = await startAgent(dataDir, await freePort(), undefined, [
    ...agentNetworkArgs(NETWORK),
    ...SIDECAR_IMAGE_ARGS,
  ])
  let second: Awaited<ReturnType<typeof startSecondAgent>> | undefined
  const socketDir = args.forwarders
    ? await mkdtemp(join(tmpdir(), "beemesh-dataplane-fwd-"))
    : undefined
  try {
    const plain = await plainSide()
    const mesh = await meshSide("beemesh", agent, manifests, "cli")
    second = await startSecondAgent(agent, dataDir)
    const meshTcp = await meshSide("beemesh-tcp", second.agent, clientManifest("clitcp"), "clitcp")
    const sides = [
      plain,
      mesh,
      meshTcp,
      ...(socketDir === undefined ? [] : await forwarderSides(socketDir)),
    ]
    const results = Object.fromEntries(sides.map((side) => [side.name, []])) as Partial<
      Record<SideName, Array<Figures>>
    >
    // Warm both paths (connection pools, JIT) before anything counts.
    for (const side of sides)
      for (const url of [side.web, side.keep])
        await side.exec(["/usr/bin/hey", "-n", "300", "-c", "4", url])
    for (let round = 0; round < ROUNDS; round++) {
      // Each side goes first in turn.
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!)
      for (const side of order) {
        results[side.name]!.push(await measure(side))
        console.error(
          `round ${round + 1}/${ROUNDS} ${side.name}: ${JSON.stringify(results[side.name]!.at(-1))}`,
        )
      }
    }
    const rows: Array<[string, keyof Figures, "higher" | "lower"]> = [
      ["new connections, 1 client (req/s)", "newConnRate", "higher"],
      ["new connection p50 (ms)", "newConnP50Ms", "lower"],
      ["new connections, 20 clients (req/s)", "newConn20Rate", "higher"],
      ["new connection p50, 20 clients (ms)", "newConn20P50Ms", "lower"],
      ["keep-alive request p50 (ms)", "keepAliveP50Ms", "lower"],
      ["keep-alive request p99 (ms)", "keepAliveP99Ms", "lower"],
      ["keep-alive request mean (ms, 1 / rate)", "keepAliveMeanMs", "lower"],
      ["bulk, iperf3 5 s (MiB/s)", "bulkMiBps", "higher"],
    ]
    const medians = Object.fromEntries(
      Object.entries(results).map(([side, figures]) => [
        side,
        Object.fromEntries(
          (Object.keys(figures[0]!) as Array<keyof Figures>).map((key) => [
            key,
            median(figures.map((f) => f[key])),
          ]),
        ),
      ]),
    ) as Record<"plain" | "beemesh" | "beemesh-tcp", Record<keyof Figures, number>> &
      Partial<Record<SideName, Record<keyof Figures, number>>>
    // Every side's median, then each other side's as a ratio to plain Podman's.
    const others = sides.filter((side) => side.name !== "plain").map((side) => side.name)
    console.log(
      `\nData plane, medians of ${ROUNDS} interleaved rounds ${["plain", ...others].map((n) => n.padStart(12)).join(" ")}   ${others.map((n) => `${n}/plain`.padStart(18)).join(" ")}`,
    )
    for (const [label, key] of rows) {
      const p = medians.plain[key]
      const values = others.map((n) => medians[n]![key])
      console.log(
        `  ${label.padEnd(40)} ${[p, ...values].map((v) => v.toFixed(2).padStart(12)).join(" ")}   ${values.map((v) => `${(v / p).toFixed(2)}×`.padStart(18)).join(" ")}`,
      )
    }
    const meshTransport = {
      beemesh: await mesh.transport?.(),
      "beemesh-tcp": await meshTcp.transport?.(),
    }
    for (const [label, client, server] of [
      ["new connection", "clientSidecarUsPerNewConn", "serverSidecarUsPerNewConn"],
      ["keep-alive request", "clientSidecarUsPerKeepAlive", "serverSidecarUsPerKeepAlive"],
    ] as const)
      console.log(
        `  proxy CPU per ${label} (µs, client + server): ${others.map((n) => `${n} ${medians[n]![client].toFixed(0)} + ${medians[n]![server].toFixed(0)}`).join(", ")}`,
      )
    console.log(
      `  client sidecars' connections by transport: ${JSON.stringify(meshTransport)} (unix: the same-host path)`,
    )
    for (const n of others) {
      const m = medians[n]!
      console.log(
        `  added latency, ${n}: new connection p50 ${(m.newConnP50Ms - medians.plain.newConnP50Ms).toFixed(2)} ms, keep-alive p50 ${(m.keepAliveP50Ms - medians.plain.keepAliveP50Ms).toFixed(2)} ms, p99 ${(m.keepAliveP99Ms - medians.plain.keepAliveP99Ms).toFixed(2)} ms (hey's resolution: 0.1 ms), mean ${(m.keepAliveMeanMs - medians.plain.keepAliveMeanMs).toFixed(3)} ms`,
      )
    }
    mkdirSync(dirname(OUT), { recursive: true })
    writeFileSync(
      OUT,
      `${JSON.stringify({ rounds: ROUNDS, network: NETWORK, meshTransport, medians, results }, null, 2)}\n`,
    )
    console.log(`\nwrote ${OUT}`)
  } finally {
    await api(agent, "DELETE", `/v1/workloads/${ns}/srv`).catch(() => undefined)
    await api(agent, "DELETE", `/v1/workloads/${ns}/cli`).catch(() => undefined)
    if (second !== undefined) {
      await api(second.agent, "DELETE", `/v1/workloads/${ns}/clitcp`).catch(() => undefined)
      await second.agent.stop()
      await rm(second.dataDir, { recursive: true, force: true })
    }
    await agent.stop()
    await rm(dataDir, { recursive: true, force: true })
    const ids = run("podman", ["ps", "-aq", "--filter", `label=${LABEL}`])
      .stdout.split("\n")
      .filter(Boolean)
    if (ids.length > 0) run("podman", ["rm", "-f", "-t", "0", ...ids])
    const pods = run("podman", ["pod", "ps", "-q", "--filter", `label=${LABEL}`])
      .stdout.split("\n")
      .filter(Boolean)
    if (pods.length > 0) run("podman", ["pod", "rm", "-f", "-t", "0", ...pods])
    if (socketDir !== undefined) await rm(socketDir, { recursive: true, force: true })
    // Built on every run: nothing of the benchmark stays on the machine.
    run("podman", ["rmi", "-f", TOOLS_IMAGE])
  }
}

await main()
