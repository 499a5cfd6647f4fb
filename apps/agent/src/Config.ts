/**
 * The agent's configuration, read once at start from a file, the environment and flags (flags win
 * over the environment, which wins over the file), validated before anything listens.
 */
import { isIPv4 } from "node:net"
import { parseArgs } from "node:util"
import { parsePodmanNetworkOptions, type SlirpOptions } from "@beemesh/netns"
import { Data, Effect, Schema } from "effect"
import { parse as parseYaml } from "yaml"

export const AGENT_VERSION = "0.1.0"

export type LogLevel = "debug" | "info" | "warn" | "error"
/** text: logfmt, one line per event, no colours (journald-friendly); json: one JSON object a line. */
export type LogFormat = "text" | "json"

export interface AgentConfig {
  readonly apiHost: string
  readonly apiPort: number
  /** libp2p listen multiaddrs of the host node. */
  readonly listen: ReadonlyArray<string>
  /** Multiaddrs (with /p2p/<id>) of agents to join. */
  readonly bootstrap: ReadonlyArray<string>
  /**
   * This host is behind a NAT: reachable agents (multiaddrs with /p2p/<id>) whose relays the
   * agent and its sidecars hold a slot at. Undefined: the host is reachable and its agent runs a
   * relay for the others.
   */
  readonly relays?: ReadonlyArray<string> | undefined
  readonly dataDir: string
  readonly slirp: SlirpOptions
  readonly podmanSocket: string | undefined
  readonly sidecarImage: string
  /** Host address that sidecars advertise with their published port (where peers dial them). */
  readonly advertiseHost: string
  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
  /**
   * How long a sidecar's registration lives without renewal; sidecars renew (and report their
   * traffic) every third of it. Undefined: the directory's default (30 s).
   */
  readonly leaseSeconds: number | undefined
  /**
   * Pods made ahead of need and kept ready (network, egress policy and a waiting sidecar), which a
   * new replica claims instead of waiting for all of that. Undefined: none (0).
   */
  readonly warmPods?: number | undefined
  /**
   * The nice of the agent's session against the pods' sessions (CpuPriority.ts), -20..19.
   * Undefined: -10 as root, else left as it is.
   */
  readonly nice?: number | undefined
  /**
   * The mesh key file every agent of the mesh holds (see `mesh init`). Undefined: the agent's own
   * `<dataDir>/mesh.key`, created at first start (a mesh of this host alone).
   */
  readonly meshKeyFile: string | undefined
  /**
   * The mesh authority's peer id (see `mesh init`): peers must present certificates signed by it.
   * Undefined: the agent's own authority (`<dataDir>/mesh-authority.key`), created at first start.
   */
  readonly meshAuthority?: string | undefined
  /** This agent's membership certificate (`mesh certify`), required with `meshAuthority`. */
  readonly certificateFile?: string | undefined
  /** A revocation list (`mesh revoke`) to start with; newer lists arrive over the mesh or the API. */
  readonly revocationsFile?: string | undefined
  /**
   * Whether the agent runs the replicated service catalog (gossipsub, every live service record
   * held here). False: resolves go to the DHT alone. Undefined: it does.
   */
  readonly catalog?: boolean | undefined
}

/** Where the agent keeps its own mesh authority key when no authority is given. */
export const defaultAuthorityKeyFile = (dataDir: string) => `${dataDir}/mesh-authority.key`

/** Where the agent keeps its own mesh key when none is given. */
export const defaultMeshKeyFile = (dataDir: string) => `${dataDir}/mesh.key`

export class ConfigInvalid extends Data.TaggedError("ConfigInvalid")<{
  /** Where the value came from: a flag, a variable or the file. */
  readonly source: string
  readonly reason: string
}> {
  override get message() {
    return `configuration ${this.source}: ${this.reason}`
  }
}

export const HELP = `beemesh-agent ${AGENT_VERSION} — runs workloads as isolated Podman pods on a libp2p mesh

Usage:
  beemesh-agent run [options]      start the agent (HTTP API, libp2p node, pods)
  beemesh-agent doctor [options]   check this host's network prerequisites (rootless: also that
                                   podman unshare works) and print the report
  beemesh-agent mesh init [options]
                                   create a mesh key (mode 0600) at --mesh-key FILE, else
                                   <data dir>/mesh.key, and the mesh authority key at
                                   --authority-key FILE, else <data dir>/mesh-authority.key
                                   (kept if present); prints both and the authority's peer id
  beemesh-agent mesh certify --authority-key FILE --peer-id PEERID [--days N] [--out FILE]
                                   sign an agent's membership certificate (default 365 days)
  beemesh-agent mesh revoke --authority-key FILE (--peer-id PEERID | --serial S)... [--list FILE]
                                   [--out FILE]: sign a revocation list (keeping --list's entries);
                                   give it to an agent (--revocations, PUT /v1/mesh/revocations)
  beemesh-agent --help | --version

Options (flag / environment variable / config file key):
  --config FILE          BEEMESH_CONFIG           YAML or JSON file with the keys below
  --api HOST:PORT        BEEMESH_API              api            HTTP API address (default 127.0.0.1:8080)
  --listen MULTIADDR     BEEMESH_LISTEN           listen         libp2p listen address, repeatable or
                                                                 comma-separated (default /ip4/0.0.0.0/tcp/4001)
  --bootstrap MULTIADDR  BEEMESH_BOOTSTRAP        bootstrap      agent to join, /ip4/…/tcp/…/p2p/<peer id>
  --relay MULTIADDR      BEEMESH_RELAYS           relays         this host is behind a NAT: hold a slot at this
                                                                 reachable agent's relay, /ip4/…/tcp/…/p2p/<peer id>;
                                                                 repeatable. Without it the agent runs a relay
  --data-dir DIR         BEEMESH_DATA_DIR         dataDir        identity, tokens, state (default
                                                                 /var/lib/beemesh as root, else
                                                                 $XDG_DATA_HOME/beemesh)
  --slirp OPTIONS        BEEMESH_SLIRP            slirp          pod network, Podman's slirp4netns form (default
                                                                 enable_ipv6=true,allow_host_loopback=true,cidr=10.0.2.0/24,mtu=1500;
                                                                 port_handler=slirp4netns saves a rootlessport per pod)
  --podman-socket PATH   BEEMESH_PODMAN_SOCKET    podmanSocket   libpod socket (default: CONTAINER_HOST, then the
                                                                 standard paths; an embedded service when none answers)
  --sidecar-image IMAGE  BEEMESH_SIDECAR_IMAGE    sidecarImage   (default localhost/beemesh/sidecar:${AGENT_VERSION})
  --advertise-host ADDR  BEEMESH_ADVERTISE_HOST   advertiseHost  address peers dial sidecars at (default 127.0.0.1)
  --log-level LEVEL      BEEMESH_LOG_LEVEL        logLevel       debug, info, warn or error (default info)
  --log-format FORMAT    BEEMESH_LOG_FORMAT       logFormat      text (logfmt, one line per event) or json
                                                                 (one object per line); default text
  --lease-seconds N      BEEMESH_LEASE_SECONDS    leaseSeconds   sidecar registration lease, 3..3600 (default 30);
                                                                 sidecars renew and report traffic every N/3 s
  --warm-pods N          BEEMESH_WARM_PODS        warmPods       keep N pods made ahead of need, 0..64 (default 0):
                                                                 network, egress rules and a waiting sidecar ready;
                                                                 a new replica claims one and starts in a fraction
                                                                 of the time. Each costs an idle sidecar's memory
  --nice N               BEEMESH_NICE             nice           CPU priority of the agent's session against its
                                                                 pods' where the kernel groups tasks by session,
                                                                 -20..19 (default -10 as root); below 0 needs root
  --mesh-key FILE        BEEMESH_MESH_KEY         meshKey        the mesh key shared by every agent of the mesh
                                                                 (absolute path, mode 0600); only peers holding it
                                                                 connect to this agent and its sidecars. Default:
                                                                 <data dir>/mesh.key, created at first start (a
                                                                 mesh of this host alone); required with
                                                                 --bootstrap or --relay
  --mesh-authority PEERID BEEMESH_MESH_AUTHORITY  meshAuthority  the mesh authority's peer id (mesh init prints
                                                                 it); every connection of this agent and its
                                                                 sidecars must prove a certificate chaining to it.
                                                                 Default: this host's own authority
                                                                 (<data dir>/mesh-authority.key); with
                                                                 --bootstrap or --relay give it and --certificate
  --certificate FILE     BEEMESH_CERTIFICATE      certificate    this agent's membership certificate (mesh certify)
  --revocations FILE     BEEMESH_REVOCATIONS      revocations    a revocation list (mesh revoke) to start with; newer
                                                                 ones spread from agent to agent
  --no-catalog           BEEMESH_CATALOG=off      catalog: false run without the replicated service catalog: this
                                                                 agent neither holds nor gossips the mesh's service
                                                                 records and resolves through the DHT alone (on by
                                                                 default; on or off, true or false)
`

export type Command =
  | { readonly _tag: "Help" }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Run"; readonly config: AgentConfig }
  | { readonly _tag: "Doctor"; readonly config: AgentConfig; readonly json: boolean }
  | { readonly _tag: "MeshInit"; readonly path: string; readonly authorityKeyPath: string }
  | {
      readonly _tag: "MeshCertify"
      readonly authorityKey: string
      readonly peerId: string
      readonly days: number
      readonly out: string | undefined
    }
  | {
      readonly _tag: "MeshRevoke"
      readonly authorityKey: string
      readonly peerIds: ReadonlyArray<string>
      readonly serials: ReadonlyArray<string>
      /** An earlier list whose entries the new one keeps. */
      readonly list: string | undefined
      readonly out: string | undefined
    }

export interface ConfigSources {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly readFile: (path: string) => Promise<string>
  readonly isRoot: boolean
  readonly home: string
}

const FileSchema = Schema.Struct({
  api: Schema.optional(Schema.String),
  listen: Schema.optional(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  bootstrap: Schema.optional(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  relays: Schema.optional(Schema.Union([Schema.String, Schema.Array(Schema.String)])),
  dataDir: Schema.optional(Schema.String),
  slirp: Schema.optional(Schema.String),
  podmanSocket: Schema.optional(Schema.String),
  sidecarImage: Schema.optional(Schema.String),
  advertiseHost: Schema.optional(Schema.String),
  logLevel: Schema.optional(Schema.String),
  logFormat: Schema.optional(Schema.String),
  leaseSeconds: Schema.optional(Schema.Union([Schema.Number, Schema.String])),
  warmPods: Schema.optional(Schema.Union([Schema.Number, Schema.String])),
  nice: Schema.optional(Schema.Union([Schema.Number, Schema.String])),
  meshKey: Schema.optional(Schema.String),
  meshAuthority: Schema.optional(Schema.String),
  certificate: Schema.optional(Schema.String),
  revocations: Schema.optional(Schema.String),
  catalog: Schema.optional(Schema.Union([Schema.Boolean, Schema.String])),
})

/** The words an on/off option takes. */
const SWITCH: ReadonlyMap<string, boolean> = new Map([
  ["on", true],
  ["true", true],
  ["off", false],
  ["false", false],
])
const LOG_LEVELS: ReadonlyArray<LogLevel> = ["debug", "info", "warn", "error"]
const MESH_SUBCOMMANDS: ReadonlyArray<string> = ["init", "certify", "revoke"]
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{46,128}$/
const MULTIADDR = /^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/\d+(\/p2p\/[1-9A-HJ-NP-Za-km-z]+)?$/

const list = (
  value: string | ReadonlyArray<string> | undefined,
): ReadonlyArray<string> | undefined =>
  value === undefined
    ? undefined
    : (typeof value === "string" ? value.split(",") : value)
        .map((x) => x.trim())
        .filter((x) => x !== "")

/** Parses the command line and the other sources into a command with a validated configuration. */
export const parseCommand = (sources: ConfigSources): Effect.Effect<Command, ConfigInvalid> =>
  Effect.gen(function* () {
    const parsed = yield* Effect.try({
      try: () =>
        parseArgs({
          args: [...sources.argv],
          allowPositionals: true,
          strict: true,
          options: {
            help: { type: "boolean", short: "h" },
            version: { type: "boolean" },
            json: { type: "boolean" },
            config: { type: "string" },
            api: { type: "string" },
            listen: { type: "string", multiple: true },
            bootstrap: { type: "string", multiple: true },
            relay: { type: "string", multiple: true },
            "data-dir": { type: "string" },
            slirp: { type: "string" },
            "podman-socket": { type: "string" },
            "sidecar-image": { type: "string" },
            "advertise-host": { type: "string" },
            "log-level": { type: "string" },
            "log-format": { type: "string" },
            "lease-seconds": { type: "string" },
            "warm-pods": { type: "string" },
            nice: { type: "string" },
            "mesh-key": { type: "string" },
            "mesh-authority": { type: "string" },
            certificate: { type: "string" },
            revocations: { type: "string" },
            "no-catalog": { type: "boolean" },
            "authority-key": { type: "string" },
            "peer-id": { type: "string", multiple: true },
            serial: { type: "string", multiple: true },
            days: { type: "string" },
            out: { type: "string" },
            list: { type: "string" },
          },
        }),
      catch: (error) =>
        new ConfigInvalid({
          source: "command line",
          reason: `${(error as Error).message} (see --help)`,
        }),
    })
    const { values, positionals } = parsed
    if (values.help === true) return { _tag: "Help" } as const
    if (values.version === true) return { _tag: "Version" } as const
    const [verb, ...rest] = positionals
    if (verb === undefined) {
      return yield* new ConfigInvalid({
        source: "command line",
        reason: "no command given; use run or doctor (see --help)",
      })
    }
    if (verb !== "run" && verb !== "doctor" && verb !== "mesh") {
      return yield* new ConfigInvalid({
        source: "command line",
        reason: `unknown command "${verb}"; use run, doctor or mesh init (see --help)`,
      })
    }
    if (verb === "mesh" && !MESH_SUBCOMMANDS.includes(rest[0] ?? "")) {
      return yield* new ConfigInvalid({
        source: "command line",
        reason:
          rest[0] === undefined
            ? "mesh needs a subcommand: mesh init, mesh certify or mesh revoke (see --help)"
            : `unknown mesh subcommand "${rest[0]}"; use mesh init, mesh certify or mesh revoke (see --help)`,
      })
    }
    if (rest.length > (verb === "mesh" ? 1 : 0)) {
      return yield* new ConfigInvalid({
        source: "command line",
        reason: `unexpected argument "${rest[verb === "mesh" ? 1 : 0]}"`,
      })
    }

    const env = sources.env
    const configPath = values.config ?? env.BEEMESH_CONFIG
    const file = configPath === undefined ? {} : yield* readConfigFile(configPath, sources.readFile)

    const pick = <A>(flag: A | undefined, variable: A | undefined, fromFile: A | undefined) =>
      flag ?? variable ?? fromFile

    const api = pick(values.api, env.BEEMESH_API, file.api) ?? "127.0.0.1:8080"
    const apiMatch = /^(.+):(\d{1,5})$/.exec(api)
    const apiPort = Number(apiMatch?.[2])
    if (apiMatch === null || apiPort < 1 || apiPort > 65535) {
      return yield* new ConfigInvalid({
        source: "api",
        reason: `"${api}" is not HOST:PORT (for example 127.0.0.1:8080)`,
      })
    }
    const apiHost = apiMatch[1]!.replace(/^\[(.*)\]$/, "$1")

    const listen = list(pick(values.listen, list(env.BEEMESH_LISTEN), list(file.listen))) ?? [
      "/ip4/0.0.0.0/tcp/4001",
    ]
    const bootstrap =
      list(pick(values.bootstrap, list(env.BEEMESH_BOOTSTRAP), list(file.bootstrap))) ?? []
    const relays = list(pick(values.relay, list(env.BEEMESH_RELAYS), list(file.relays)))
    for (const address of relays ?? []) {
      if (!MULTIADDR.test(address) || !address.includes("/p2p/")) {
        return yield* new ConfigInvalid({
          source: "relays",
          reason: `"${address}" must be a reachable agent's TCP multiaddr with its peer id, like /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW…`,
        })
      }
    }
    for (const address of listen) {
      if (!MULTIADDR.test(address)) {
        return yield* new ConfigInvalid({
          source: "listen",
          reason: `"${address}" is not a TCP multiaddr like /ip4/0.0.0.0/tcp/4001`,
        })
      }
    }
    for (const address of bootstrap) {
      if (!MULTIADDR.test(address) || !address.includes("/p2p/")) {
        return yield* new ConfigInvalid({
          source: "bootstrap",
          reason: `"${address}" must be a TCP multiaddr with the peer id, like /ip4/192.0.2.1/tcp/4001/p2p/12D3KooW…`,
        })
      }
    }

    const slirpText = pick(values.slirp, env.BEEMESH_SLIRP, file.slirp)
    const slirp = yield* parsePodmanNetworkOptions(slirpText ?? "").pipe(
      Effect.mapError((error) => new ConfigInvalid({ source: "slirp", reason: error.message })),
    )

    const logLevel = pick(values["log-level"], env.BEEMESH_LOG_LEVEL, file.logLevel) ?? "info"
    if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
      return yield* new ConfigInvalid({
        source: "logLevel",
        reason: `"${logLevel}" is not one of ${LOG_LEVELS.join(", ")}`,
      })
    }

    const logFormat = pick(values["log-format"], env.BEEMESH_LOG_FORMAT, file.logFormat) ?? "text"
    if (logFormat !== "text" && logFormat !== "json") {
      return yield* new ConfigInvalid({
        source: "logFormat",
        reason: `"${logFormat}" is not text or json`,
      })
    }

    const leaseText = pick(values["lease-seconds"], env.BEEMESH_LEASE_SECONDS, file.leaseSeconds)
    const leaseSeconds = leaseText === undefined ? undefined : Number(leaseText)
    if (
      leaseSeconds !== undefined &&
      (!Number.isInteger(leaseSeconds) || leaseSeconds < 3 || leaseSeconds > 3600)
    ) {
      return yield* new ConfigInvalid({
        source: "leaseSeconds",
        reason: `"${leaseText}" is not a whole number of seconds from 3 to 3600`,
      })
    }

    /** `text` as a whole number from `min` to `max`; undefined when not given, or not one. */
    const wholeIn = (text: string | undefined, min: number, max: number) => {
      const value = Number(text?.trim())
      return text !== undefined &&
        text.trim() !== "" &&
        Number.isInteger(value) &&
        value >= min &&
        value <= max
        ? value
        : undefined
    }

    const niceText = pick(
      values.nice,
      env.BEEMESH_NICE,
      file.nice === undefined ? undefined : String(file.nice),
    )
    const nice = wholeIn(niceText, -20, 19)
    if (nice === undefined && niceText !== undefined) {
      return yield* new ConfigInvalid({
        source: "nice",
        reason: `"${niceText}" is not a whole number from -20 to 19`,
      })
    }

    const warmText = pick(
      values["warm-pods"],
      env.BEEMESH_WARM_PODS,
      file.warmPods === undefined ? undefined : String(file.warmPods),
    )
    const warmPods = wholeIn(warmText, 0, 64)
    if (warmPods === undefined && warmText !== undefined) {
      return yield* new ConfigInvalid({
        source: "warmPods",
        reason: `"${warmText}" is not a whole number of pods from 0 to 64`,
      })
    }

    const defaultDataDir = sources.isRoot
      ? "/var/lib/beemesh"
      : `${env.XDG_DATA_HOME ?? `${sources.home}/.local/share`}/beemesh`
    const dataDir = pick(values["data-dir"], env.BEEMESH_DATA_DIR, file.dataDir) ?? defaultDataDir
    if (!dataDir.startsWith("/")) {
      return yield* new ConfigInvalid({
        source: "dataDir",
        reason: `"${dataDir}" must be an absolute path`,
      })
    }

    const advertiseHost =
      pick(values["advertise-host"], env.BEEMESH_ADVERTISE_HOST, file.advertiseHost) ?? "127.0.0.1"
    if (!isIPv4(advertiseHost)) {
      return yield* new ConfigInvalid({
        source: "advertiseHost",
        reason: `"${advertiseHost}" must be an IPv4 address of this host (sidecars are published and advertised there)`,
      })
    }

    const meshKeyFile = pick(values["mesh-key"], env.BEEMESH_MESH_KEY, file.meshKey)
    if (meshKeyFile !== undefined && !meshKeyFile.startsWith("/")) {
      return yield* new ConfigInvalid({
        source: "meshKey",
        reason: `"${meshKeyFile}" must be an absolute path`,
      })
    }
    if (verb === "mesh" && rest[0] === "init")
      return {
        _tag: "MeshInit",
        path: meshKeyFile ?? defaultMeshKeyFile(dataDir),
        authorityKeyPath: values["authority-key"] ?? defaultAuthorityKeyFile(dataDir),
      } as const
    if (verb === "mesh") return yield* meshCommand(rest[0] ?? "", values)

    const meshAuthority = pick(
      values["mesh-authority"],
      env.BEEMESH_MESH_AUTHORITY,
      file.meshAuthority,
    )
    if (meshAuthority !== undefined && !PEER_ID.test(meshAuthority)) {
      return yield* new ConfigInvalid({
        source: "meshAuthority",
        reason: `"${meshAuthority}" is not a libp2p peer id (mesh init prints the authority's, 12D3KooW…)`,
      })
    }
    const revocationsFile = pick(values.revocations, env.BEEMESH_REVOCATIONS, file.revocations)
    if (revocationsFile !== undefined && !revocationsFile.startsWith("/")) {
      return yield* new ConfigInvalid({
        source: "revocations",
        reason: `"${revocationsFile}" must be an absolute path`,
      })
    }
    const certificateFile = pick(values.certificate, env.BEEMESH_CERTIFICATE, file.certificate)
    if (certificateFile !== undefined && !certificateFile.startsWith("/")) {
      return yield* new ConfigInvalid({
        source: "certificate",
        reason: `"${certificateFile}" must be an absolute path`,
      })
    }

    const catalogText =
      values["no-catalog"] === true
        ? "off"
        : pick(
            undefined,
            env.BEEMESH_CATALOG,
            file.catalog === undefined ? undefined : String(file.catalog),
          )
    const catalog = catalogText === undefined ? true : SWITCH.get(catalogText.trim().toLowerCase())
    if (catalog === undefined) {
      return yield* new ConfigInvalid({
        source: "catalog",
        reason: `"${catalogText}" is not on or off (true or false); off runs the agent without the replicated service catalog`,
      })
    }

    const config: AgentConfig = {
      apiHost,
      apiPort,
      listen,
      bootstrap,
      ...(relays === undefined || relays.length === 0 ? {} : { relays }),
      dataDir,
      slirp,
      podmanSocket: pick(values["podman-socket"], env.BEEMESH_PODMAN_SOCKET, file.podmanSocket),
      sidecarImage:
        pick(values["sidecar-image"], env.BEEMESH_SIDECAR_IMAGE, file.sidecarImage) ??
        `localhost/beemesh/sidecar:${AGENT_VERSION}`,
      advertiseHost,
      logLevel: logLevel as LogLevel,
      logFormat,
      leaseSeconds,
      ...(warmPods === undefined || warmPods === 0 ? {} : { warmPods }),
      ...(nice === undefined ? {} : { nice }),
      meshKeyFile,
      ...(meshAuthority === undefined ? {} : { meshAuthority }),
      ...(certificateFile === undefined ? {} : { certificateFile }),
      ...(revocationsFile === undefined ? {} : { revocationsFile }),
      ...(catalog ? {} : { catalog: false }),
    }
    return verb === "run"
      ? ({ _tag: "Run", config } as const)
      : ({ _tag: "Doctor", config, json: values.json === true } as const)
  })

/** `mesh certify` and `mesh revoke`: the authority key and what to sign. */
const meshCommand = (
  subcommand: string,
  values: {
    readonly "authority-key"?: string | undefined
    readonly "peer-id"?: ReadonlyArray<string> | undefined
    readonly serial?: ReadonlyArray<string> | undefined
    readonly days?: string | undefined
    readonly out?: string | undefined
    readonly list?: string | undefined
  },
): Effect.Effect<Command, ConfigInvalid> =>
  Effect.gen(function* () {
    const authorityKey = values["authority-key"]
    if (authorityKey === undefined)
      return yield* new ConfigInvalid({
        source: "authority-key",
        reason: `mesh ${subcommand} signs with the mesh authority's key: give --authority-key FILE (mesh init wrote it)`,
      })
    const peerIds = values["peer-id"] ?? []
    for (const peer of peerIds)
      if (!PEER_ID.test(peer))
        return yield* new ConfigInvalid({
          source: "peer-id",
          reason: `"${peer}" is not a libp2p peer id (an agent's log and /health name it, 12D3KooW…)`,
        })
    if (subcommand === "certify") {
      const [peerId, ...more] = peerIds
      if (peerId === undefined || more.length > 0)
        return yield* new ConfigInvalid({
          source: "peer-id",
          reason: "mesh certify certifies one agent: give exactly one --peer-id PEERID",
        })
      const days = Number(values.days ?? "365")
      if (!Number.isInteger(days) || days < 1 || days > 3650)
        return yield* new ConfigInvalid({
          source: "days",
          reason: `"${values.days}" is not a whole number of days from 1 to 3650`,
        })
      return { _tag: "MeshCertify", authorityKey, peerId, days, out: values.out } as const
    }
    const serials = values.serial ?? []
    if (peerIds.length + serials.length === 0)
      return yield* new ConfigInvalid({
        source: "command line",
        reason:
          "mesh revoke needs what to revoke: --peer-id PEERID or --serial SERIAL (repeatable)",
      })
    return {
      _tag: "MeshRevoke",
      authorityKey,
      peerIds,
      serials,
      list: values.list,
      out: values.out,
    } as const
  })

const readConfigFile = (path: string, readFile: ConfigSources["readFile"]) =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path),
      catch: (error) =>
        new ConfigInvalid({ source: path, reason: `cannot read: ${(error as Error).message}` }),
    })
    const value = yield* Effect.try({
      try: (): unknown => parseYaml(text),
      catch: (error) =>
        new ConfigInvalid({
          source: path,
          reason: `not YAML or JSON: ${(error as Error).message}`,
        }),
    })
    return yield* Schema.decodeUnknownEffect(FileSchema, { onExcessProperty: "error" })(
      value ?? {},
    ).pipe(Effect.mapError((error) => new ConfigInvalid({ source: path, reason: error.message })))
  })
