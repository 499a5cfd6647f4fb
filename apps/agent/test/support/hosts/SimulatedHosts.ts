/**
 * N simulated hosts on this machine, each a network namespace on a shared bridge with its own
 * address, its own Podman (storage, run directories, service) and its own `beemesh-agent`. Host 1
 * is the bootstrap peer of the others. Everything lives under one run directory and carries the
 * run's prefix (`bmh-<run>-…` namespaces), so the Sweeper removes leftovers of a crashed run.
 *
 * Traffic stays on addresses the harness created: the subnet exists only inside the switch and
 * host namespaces, which have no route anywhere else.
 */
import { randomBytes } from "node:crypto"
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  renameSync,
  writeFileSync,
} from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  formatMeshKey,
  generateMeshKey,
  issueCertificate,
  loadOrCreateKey,
  type MeshKey,
  peerIdOfKey,
} from "@beemesh/p2p"
import { Effect } from "effect"
import { type Capture, startCapture } from "./Capture"
import { PrerequisiteMissing } from "./errors"
import { inNetns, must, run } from "./exec"
import {
  AGENT_BUNDLE,
  type AgentIdentity,
  type ApiResponse,
  apiRequest,
  type HostAgentPaths,
  hostAgentPaths,
  startHostAgent,
  stopHostAgent,
} from "./HostAgent"
import {
  type HostPodmanPaths,
  hostPodmanPaths,
  remotePodman,
  remotePodmanArgv,
  removeAllPods,
  startHostPodman,
  stopHostPodman,
} from "./HostPodman"
import { hostUserOf, prepareHostUser, userPodman } from "./HostUser"
import { type CountingListener, startCountingListener } from "./Listener"
import { createNatRouter, type NatRouter, routeViaRouter } from "./NatRouter"
import { attachHost, createSwitch, netnsPath, setPartitions, setPort } from "./Network"
import { pidsInNetns, stopPid } from "./processes"
import {
  DEFAULT_BASE_DIR,
  NETNS_PREFIX,
  type RunRecord,
  runFile,
  sweepHost,
  sweepRun,
} from "./Sweeper"

const PROBE = join(dirname(fileURLToPath(import.meta.url)), "probe.mjs")

export interface SimulatedHostsOptions {
  /** Hosts to start at once (more can join later with addHost). */
  readonly count: number
  /** Images copied from the machine's store into every host's store. */
  readonly images: ReadonlyArray<string>
  /** Names the run's namespaces and directory (default: random). */
  readonly runId?: string
  readonly baseDir?: string
  /** First three octets of the /24 the hosts live on (default 10.77.0); host i is .(10+i). */
  readonly subnet?: string
  /** Keep the run after this process exits (the demo); only an explicit sweep removes it. */
  readonly keep?: boolean
  /**
   * The /64 the hosts also live on, as its first four groups (host i is `<prefix>::<10+i>`);
   * default: a random unique local prefix (fd00::/8 with a random 40-bit global ID, RFC 4193),
   * checked to exist nowhere on this machine.
   */
  readonly ipv6Prefix?: string
}

/** Where a NATed host lives: behind the run's NAT router, holding slots at these agents' relays. */
export interface BehindNat {
  readonly relays: ReadonlyArray<SimulatedHost>
}

/** First three octets of the private /24 behind the NAT router (10.78.0.1 is the router). */
export const NAT_SUBNET = "10.78.0"

export interface ProbeResult {
  readonly outcome: "open" | "refused" | "timeout" | "error"
  readonly data: string
}

export interface SimulatedHost extends AgentIdentity {
  readonly index: number
  readonly name: string
  readonly netns: string
  /** The host's own address: on the switch subnet, or on the private one behind the NAT. */
  readonly address: string
  /** Behind the NAT router: the router's address on the switch, the source peers see. */
  readonly natAddress: string | undefined
  /** The host's IPv6 address on the bridge (a unique local address of this run); none behind the NAT. */
  readonly address6: string | undefined
  readonly dir: string
  readonly podmanPaths: HostPodmanPaths
  readonly agentPaths: HostAgentPaths
  /** The agent's HTTP API, with the operator token unless another one is given. */
  readonly api: (
    method: string,
    path: string,
    body?: string,
    token?: string,
  ) => Promise<ApiResponse>
  /** Whether the agent and its Podman run as an unprivileged user (see addHost). */
  readonly rootless: boolean
  /** The podman CLI against this host's own Podman (the user's rootless one when rootless). */
  readonly podman: (...args: ReadonlyArray<string>) => Promise<string>
  /**
   * Runs a command inside an app container, entered with `nsenter --all` at its process: `podman
   * exec` cannot enter an app, whose user namespace is its own (runc fails to join the pod's
   * network from it). Resolves to stdout; rejects with stderr when the command fails.
   */
  readonly execInApp: (container: string, ...cmd: ReadonlyArray<string>) => Promise<string>
}

/**
 * A random unique local /64 prefix (RFC 4193) that no address or route on this machine uses, so
 * the hosts' IPv6 traffic, like their IPv4, can go nowhere but between them.
 */
const uniqueLocalPrefix = async () => {
  const used = `${await must(["ip", "-6", "addr"])}\n${await must(["ip", "-6", "route"])}`
  for (;;) {
    const id = randomBytes(5)
    // Written as `ip` prints it (no leading zeros in a group), so the check below compares alike.
    const global = [0xfd00 | id[0]!, id.readUInt16BE(1), id.readUInt16BE(3)]
      .map((group) => group.toString(16))
      .join(":")
    if (!used.includes(`${global}:`)) return `${global}:77`
  }
}

const requirePrerequisites = async (images: ReadonlyArray<string>) => {
  const missing: Array<string> = []
  if (process.getuid?.() !== 0) missing.push("root (namespaces, bridges and rootful Podman)")
  for (const [tool, fix] of [
    ["ip", "apt-get install iproute2"],
    ["nsenter", "apt-get install util-linux"],
    ["nft", "tooling/scripts/host-setup.sh"],
    ["podman", "tooling/scripts/host-setup.sh"],
    ["tcpdump", "tooling/scripts/host-setup.sh"],
  ] as const) {
    if ((await run(["which", tool])).status !== 0) missing.push(`${tool} (${fix})`)
  }
  if (!existsSync(AGENT_BUNDLE))
    missing.push(`${AGENT_BUNDLE} (pnpm --filter @beemesh/agent build)`)
  for (const image of images) {
    if ((await run(["podman", "image", "exists", image])).status !== 0)
      missing.push(`image ${image} in the machine's Podman (build it first)`)
  }
  if (missing.length > 0) throw new PrerequisiteMissing(missing)
}

export class SimulatedHosts {
  readonly hosts: Array<SimulatedHost> = []
  /** The key every agent of this run (and so every sidecar) runs the mesh's private network with. */
  readonly meshKey: MeshKey = generateMeshKey()
  /** Every host ever started, ready or not: what teardown and the run file cover. */
  private readonly entries: Array<RunRecord["hosts"][number]> = []
  private readonly blocked: Array<readonly [string, string]> = []
  private nextIndex = 1
  private router: NatRouter | undefined
  /** The namespace holding each host's bridge port: the switch, or the NAT router. */
  private readonly portNetns = new Map<string, string>()

  private constructor(
    readonly runId: string,
    readonly runDir: string,
    readonly switchNetns: string,
    private readonly subnet: string,
    private readonly subnet6: string,
    private readonly keep: boolean,
    private readonly imageArchive: string,
  ) {}

  /** Builds the network and starts `count` hosts (host 1 first: it is everyone's bootstrap). */
  static async create(options: SimulatedHostsOptions): Promise<SimulatedHosts> {
    await requirePrerequisites(options.images)
    const runId = options.runId ?? randomBytes(2).toString("hex")
    const runDir = join(options.baseDir ?? DEFAULT_BASE_DIR, runId)
    if (existsSync(runDir)) await sweepRun(runDir)
    mkdirSync(runDir, { recursive: true, mode: 0o700 })
    const archive = join(runDir, "images.tar")
    const hosts = new SimulatedHosts(
      runId,
      runDir,
      `${NETNS_PREFIX}${runId}-sw`,
      options.subnet ?? "10.77.0",
      options.ipv6Prefix ?? (await uniqueLocalPrefix()),
      options.keep ?? false,
      archive,
    )
    hosts.record()
    try {
      await createSwitch(hosts.switchNetns)
      // The pod infra image too, when the machine has it: Podman would otherwise build it per host.
      const pause = (
        await must([
          "podman",
          "images",
          "--format",
          "{{.Repository}}:{{.Tag}}",
          "--filter",
          "reference=localhost/podman-pause",
        ])
      )
        .split("\n")
        .filter((name) => name !== "")
      await must(
        ["podman", "save", "--multi-image-archive", "-o", archive, ...options.images, ...pause],
        {
          timeoutMs: 300_000,
        },
      )
      if (options.count > 0) await hosts.addHost()
      await Promise.all(Array.from({ length: options.count - 1 }, () => hosts.addHost()))
    } catch (error) {
      await hosts.teardown().catch(() => undefined)
      throw error
    }
    return hosts
  }

  private record() {
    const record: RunRecord = {
      runId: this.runId,
      ownerPid: process.pid,
      keep: this.keep,
      switchNetns: this.switchNetns,
      ...(this.router === undefined ? {} : { routers: [this.router.netns] }),
      hosts: this.entries,
    }
    // Whole or not at all: another process's sweep (e2e files run side by side) reads it, and a
    // run whose record it cannot read is a leftover to it.
    const file = runFile(this.runDir)
    writeFileSync(`${file}.new`, JSON.stringify(record, null, 2))
    renameSync(`${file}.new`, file)
  }

  /** The NAT router, created with the first host behind it. */
  private async natRouter(): Promise<NatRouter> {
    if (this.router !== undefined) return this.router
    const router: NatRouter = {
      netns: `${NETNS_PREFIX}${this.runId}-nat`,
      publicAddress: `${this.subnet}.254`,
      privateSubnet: NAT_SUBNET,
    }
    this.router = router
    this.record()
    await createNatRouter(this.switchNetns, router, "nat")
    return router
  }

  /**
   * Starts one more host joined to host 1 (or none, for the first). `behindNat`: the host sits on
   * the private subnet behind the run's NAT router (masquerade, nothing gets in) and its agent is
   * started with `--relay` for each given host. With `rootlessUser` (an existing user with
   * subordinate IDs, such as host setup's `beemesh-test`) its agent runs as that user on a
   * rootless Podman of the host's own instead of the host's rootful one.
   */
  async addHost(
    options: { readonly behindNat?: BehindNat; readonly rootlessUser?: string } = {},
  ): Promise<SimulatedHost> {
    const index = this.nextIndex++
    const name = `h${index}`
    const netns = `${NETNS_PREFIX}${this.runId}-${name}`
    const nat = options.behindNat === undefined ? undefined : await this.natRouter()
    const address = `${nat?.privateSubnet ?? this.subnet}.${10 + index}`
    const address6 = nat === undefined ? `${this.subnet6}::${10 + index}` : undefined
    const dir = join(this.runDir, name)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.entries.push({ name, netns, dir })
    this.record()
    const portNetns = nat?.netns ?? this.switchNetns
    this.portNetns.set(name, portNetns)
    await attachHost(
      portNetns,
      netns,
      name,
      `${address}/24`,
      address6 === undefined ? undefined : `${address6}/64`,
    )
    if (nat !== undefined) await routeViaRouter(netns, nat)
    const podmanPaths = hostPodmanPaths(dir)
    const user =
      options.rootlessUser === undefined
        ? undefined
        : await prepareHostUser(options.rootlessUser, this.runDir, dir)
    if (user === undefined) {
      await startHostPodman(podmanPaths, netns)
      await must(remotePodmanArgv(podmanPaths, ["load", "-q", "-i", this.imageArchive]), {
        timeoutMs: 300_000,
      })
    } else {
      chmodSync(this.imageArchive, 0o644)
      const loaded = await userPodman(user, ["load", "-q", "-i", this.imageArchive], 300_000)
      if (loaded.status !== 0)
        throw new Error(`loading the images for ${options.rootlessUser}: ${loaded.stderr}`)
    }
    const agentPaths = hostAgentPaths(dir)
    const bootstrap = this.hosts[0]
    // Each host its own copy, owned by whoever runs its agent: the agent refuses a shared mode.
    const meshKeyFile = join(dir, "mesh.key")
    writeFileSync(meshKeyFile, formatMeshKey(this.meshKey), { mode: 0o600 })
    if (user !== undefined) chownSync(meshKeyFile, user.uid, user.gid)
    // One mesh authority per run certifies every host's agent (its identity made here first).
    const authorityKey = await Effect.runPromise(
      loadOrCreateKey(join(this.runDir, "mesh-authority.key")),
    )
    const agentKeyFile = join(agentPaths.dataDir, "identity.key")
    const agentKey = await Effect.runPromise(loadOrCreateKey(agentKeyFile))
    const certificateFile = join(dir, "agent.cert")
    writeFileSync(
      certificateFile,
      await Effect.runPromise(
        issueCertificate(authorityKey, {
          role: "agent",
          subject: peerIdOfKey(agentKey),
          serial: randomBytes(12).toString("hex"),
          notBefore: Date.now() - 60_000,
          notAfter: Date.now() + 24 * 60 * 60 * 1000,
        }),
      ),
      { mode: 0o600 },
    )
    if (user !== undefined)
      for (const owned of [agentPaths.dataDir, agentKeyFile, certificateFile])
        chownSync(owned, user.uid, user.gid)
    const identity = await startHostAgent(agentPaths, {
      netns,
      address,
      meshKeyFile,
      meshAuthority: peerIdOfKey(authorityKey),
      certificateFile,
      ...(user === undefined ? { podmanSocket: podmanPaths.socket } : { runAs: user }),
      bootstrap: bootstrap === undefined || index === 1 ? [] : [bootstrap.multiaddr],
      ...(options.behindNat === undefined
        ? {}
        : { relays: options.behindNat.relays.map((relay) => relay.multiaddr) }),
    })
    const podmanCli = (args: ReadonlyArray<string>) =>
      user === undefined ? remotePodman(podmanPaths, args) : userPodman(user, args)
    const host: SimulatedHost = {
      ...identity,
      index,
      name,
      netns,
      address,
      natAddress: nat?.publicAddress,
      address6,
      dir,
      podmanPaths,
      agentPaths,
      api: (method, path, body, token = identity.token) =>
        apiRequest(agentPaths.apiSocket, method, path, {
          token,
          ...(body === undefined ? {} : { body }),
        }),
      rootless: user !== undefined,
      podman: async (...args) => {
        const result = await podmanCli(args)
        if (result.status !== 0)
          throw new Error(`podman (${name}) ${args.join(" ")}: ${result.stderr.trim()}`)
        return result.stdout.trim()
      },
      execInApp: async (container, ...cmd) => {
        const pid = await host.podman("inspect", "--format", "{{.State.Pid}}", container)
        if (!/^[1-9]\d*$/.test(pid))
          throw new Error(`app ${container} on ${name} is not running (pid "${pid}")`)
        const argv = ["nsenter", `--target=${pid}`, "--all", "--", ...cmd]
        const result = await run(argv)
        if (result.status !== 0)
          throw new Error(`in ${container} on ${name}: ${cmd.join(" ")}: ${result.stderr.trim()}`)
        return result.stdout.trim()
      },
    }
    this.hosts.push(host)
    this.hosts.sort((a, b) => a.index - b.index)
    return host
  }

  host(name: string): SimulatedHost {
    const found = this.hosts.find((h) => h.name === name)
    if (found === undefined)
      throw new Error(
        `no simulated host ${name} (have ${this.hosts.map((h) => h.name).join(", ")})`,
      )
    return found
  }

  /**
   * The whole host goes down: its cable is pulled first (peers see silence, as after a power cut,
   * not resets), then its agent is killed (SIGKILL), its pods removed and its Podman stopped.
   */
  async takeDown(host: SimulatedHost) {
    await setPort(this.portNetns.get(host.name) ?? this.switchNetns, host.name, false)
    await stopHostAgent(host.agentPaths, 0)
    await removeAllPods(host.podmanPaths)
    await stopHostPodman(host.podmanPaths)
    for (const pid of pidsInNetns(netnsPath(host.netns))) await stopPid(pid, 0)
  }

  /** Drops IPv4 between every host of `a` and every host of `b`, both ways, at the bridge. */
  async partition(a: ReadonlyArray<SimulatedHost>, b: ReadonlyArray<SimulatedHost>) {
    for (const x of a) for (const y of b) this.blocked.push([x.address, y.address])
    await setPartitions(this.switchNetns, this.blocked)
  }

  /** Removes every partition. */
  async heal() {
    this.blocked.length = 0
    await setPartitions(this.switchNetns, [])
  }

  /** One TCP connection attempt from inside `from` (optionally sending `payload`). */
  async probe(
    from: SimulatedHost,
    address: string,
    port: number,
    options: { readonly timeoutMs?: number; readonly payload?: string } = {},
  ): Promise<ProbeResult> {
    const timeoutMs = options.timeoutMs ?? 3_000
    const out = await must(
      inNetns(from.netns, [
        process.execPath,
        PROBE,
        address,
        String(port),
        String(timeoutMs),
        ...(options.payload === undefined ? [] : [options.payload]),
      ]),
      { timeoutMs: timeoutMs + 10_000 },
    )
    return JSON.parse(out) as ProbeResult
  }

  /**
   * Counting TCP and UDP listeners on one port at `host`'s IPv4 and IPv6 addresses, run inside
   * the host (stopped by `stop()`, or at teardown with everything else in the host).
   */
  listen(host: SimulatedHost): Promise<CountingListener> {
    return startCountingListener(
      host.netns,
      host.address6 === undefined ? [host.address] : [host.address, host.address6],
    )
  }

  /** Starts a capture of every frame on the bridge. */
  capture(name = "capture"): Promise<Capture> {
    return startCapture(this.switchNetns, this.runDir, name)
  }

  /**
   * Copies every host's agent and Podman logs, and the logs of each pod's containers, into
   * `dir/<host>/` (for diagnosis after teardown, which removes the run directory).
   */
  async collectLogs(dir: string) {
    for (const host of this.entries) {
      const out = join(dir, host.name)
      mkdirSync(out, { recursive: true })
      const paths = [hostAgentPaths(host.dir).logFile, hostPodmanPaths(host.dir).logFile]
      for (const file of paths) if (existsSync(file)) copyFileSync(file, join(out, basename(file)))
      const podman = hostPodmanPaths(host.dir)
      const user = hostUserOf(host.dir)
      const cli = (args: ReadonlyArray<string>) =>
        user === undefined ? remotePodman(podman, args, 10_000) : userPodman(user, args, 10_000)
      const names = await cli(["ps", "-a", "--format", "{{.Names}}"])
      if (names.status !== 0) continue
      for (const name of names.stdout.split("\n").filter((n) => n !== "")) {
        const logs = await cli(["logs", "-t", name])
        writeFileSync(join(out, `${name}.log`), logs.stdout + logs.stderr)
      }
    }
  }

  /** Removes everything: agents, pods, Podman services, namespaces, the bridge and the run dir. */
  async teardown() {
    await Promise.all(
      this.entries.map(async (host) => {
        // A graceful stop first, so the agent cannot recreate pods while they are removed.
        await stopHostAgent(hostAgentPaths(host.dir), 5_000)
        await sweepHost(host)
      }),
    )
    await sweepRun(this.runDir)
  }
}
