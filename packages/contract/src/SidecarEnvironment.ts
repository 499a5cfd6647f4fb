/**
 * The sidecar's configuration as `BEEMESH_*` environment variables: the agent encodes it into the
 * sidecar container's environment, the sidecar decodes it once at start. One table below gives
 * every variable its rule, its expected form (for messages) and its default, so both directions
 * apply the same rules, and a bad value is reported as "which variable, what value, what was
 * expected" (the pod token is never printed).
 */
import { Data, Redacted, Result, Schema } from "effect"
import {
  parseAdvertise,
  parseAgentUrl,
  parseFilePath,
  parseIpv4,
  parseLabel,
  parseMeshKeyHex,
  parsePeerId,
  parsePodName,
  parseRelays,
  parseToken,
} from "./internal/envRules.js"
import { parsedString } from "./internal/parsedString.js"
import * as PortList from "./PortList.js"
import { type ReadinessProbe, ReadinessProbesJson } from "./ReadinessProbe.js"
import { HEALTH_PORT, PROXY_PORT } from "./SidecarPorts.js"
import { describe as describeUpstream, type Upstream, UpstreamList } from "./UpstreamList.js"
import { MAX_UPSTREAMS, servicesOf } from "./UpstreamNames.js"

export type { Upstream } from "./UpstreamList.js"

/**
 * Where a pod reaches the agent's API by default: the host's loopback as slirp4netns maps it to
 * the gateway of its default network (10.0.2.0/24), on the agent's default port. The agent always
 * passes `http://<gateway>:<apiPort>` for the pod's own CIDR and port; the default only serves a
 * sidecar started by hand.
 */
export const DEFAULT_AGENT_URL = "http://10.0.2.2:8080"

export interface SidecarEnvironment {
  readonly namespace: string
  readonly workload: string
  readonly pod: string
  /** Services this pod provides: name → the app's port on 127.0.0.1. */
  readonly services: ReadonlyArray<PortList.NamedPort>
  readonly upstreams: ReadonlyArray<Upstream>
  readonly agentUrl: string
  readonly podToken: Redacted.Redacted<string>
  /** Multiaddrs other hosts dial to reach this sidecar (host address + published port). */
  readonly advertise: ReadonlyArray<string>
  readonly listenPort: number
  readonly healthHost: string
  readonly healthPort: number
  /** Path of a protobuf-encoded Ed25519 private key; absent means an ephemeral identity. */
  readonly identityKeyFile: string | undefined
  /**
   * The host is behind a NAT: relays (multiaddrs with /p2p/<id>) the sidecar holds a slot at and
   * registers `<relay>/p2p-circuit` addresses for. Absent: its advertised address is reachable.
   */
  readonly relays: ReadonlyArray<string> | undefined
  /** Readiness probes of the pod's apps: the services are registered only while all pass. */
  readonly readinessProbes: ReadonlyArray<ReadinessProbe> | undefined
  /** Liveness probes: one past its failureThreshold is reported to the agent, which restarts. */
  readonly livenessProbes: ReadonlyArray<ReadinessProbe> | undefined
  /** Startup probes: readiness and liveness wait until all pass; one that never does restarts. */
  readonly startupProbes: ReadonlyArray<ReadinessProbe> | undefined
  /**
   * The mesh key (64 hex digits) the sidecar's libp2p node runs its private network with, so that
   * only members connect to it. Like the pod token it reaches the sidecar only through its own
   * environment, which the pod's apps cannot read. Absent: an open node (a sidecar run by hand).
   */
  readonly meshKey: Redacted.Redacted<string> | undefined
  /**
   * The same-host socket directory as mounted in the sidecar (SameHostSockets.MOUNT): the
   * sidecar listens there and dials providers' sockets there. Absent: network addresses only.
   */
  readonly sameHostDirectory: string | undefined
  /**
   * The mesh authority's peer id: the sidecar's node runs certified membership (agent
   * certificates signed by it; its own chain comes with each registration Lease). Absent: no
   * membership check (a sidecar run by hand, or an agent from before certificates).
   */
  readonly meshAuthority: string | undefined
}

type Defaulted = "services" | "upstreams" | "agentUrl" | "listenPort" | "healthHost" | "healthPort"

/** What the agent encodes: settings with a default may be left out. */
export type SidecarEnvironmentInput = Omit<
  SidecarEnvironment,
  | Defaulted
  | "identityKeyFile"
  | "relays"
  | "readinessProbes"
  | "livenessProbes"
  | "startupProbes"
  | "meshKey"
  | "sameHostDirectory"
  | "meshAuthority"
> &
  Partial<Pick<SidecarEnvironment, Defaulted>> & {
    readonly identityKeyFile?: string | undefined
    readonly relays?: ReadonlyArray<string> | undefined
    readonly readinessProbes?: ReadonlyArray<ReadinessProbe> | undefined
    readonly livenessProbes?: ReadonlyArray<ReadinessProbe> | undefined
    readonly startupProbes?: ReadonlyArray<ReadinessProbe> | undefined
    readonly meshKey?: Redacted.Redacted<string> | undefined
    readonly sameHostDirectory?: string | undefined
    readonly meshAuthority?: string | undefined
  }

/** One variable that failed to decode or encode. */
export interface Problem {
  readonly variable: string
  /** The offending value as printed in the message (the token is masked). */
  readonly value: string | undefined
  readonly expected: string
  readonly reason: string
}

export class SidecarEnvironmentInvalid extends Data.TaggedError("SidecarEnvironmentInvalid")<{
  readonly problems: ReadonlyArray<Problem>
}> {
  override get message(): string {
    const lines = this.problems.map((p) => {
      const shown = p.value === undefined ? "is not set" : `=${JSON.stringify(p.value)}`
      return `  ${p.variable}${p.value === undefined ? " " : ""}${shown}: ${p.reason}; expected ${p.expected}`
    })
    return `invalid sidecar configuration:\n${lines.join("\n")}`
  }
}

const same = (s: string) => s
const text = (parse: (raw: string) => Result.Result<string, string>) =>
  parsedString(Schema.String, parse, same)
const port = parsedString(Schema.Number, PortList.parsePort, String)

interface VariableRules {
  readonly expected: string
  /** The string form used when the variable is not set; no default and not optional: required. */
  readonly default?: string
  readonly optional?: boolean
  /** Masked in messages; the value travels as Redacted. */
  readonly secret?: boolean
}

interface Variable extends VariableRules {
  readonly field: keyof SidecarEnvironment
  readonly decode: (raw: string) => Result.Result<unknown, Schema.SchemaError>
  readonly encode: (value: unknown) => Result.Result<string, Schema.SchemaError>
}

const variable = <T>(
  field: keyof SidecarEnvironment,
  schema: Schema.Codec<T, string>,
  rules: VariableRules,
): Variable => ({
  field,
  decode: Schema.decodeUnknownResult(schema),
  encode: Schema.encodeUnknownResult(schema),
  ...rules,
})

/** Every variable the sidecar reads, with its rule, expected form and default. */
export const variables = {
  BEEMESH_NAMESPACE: variable("namespace", text(parseLabel("namespace")), {
    expected: "a DNS label such as 'default'",
  }),
  BEEMESH_WORKLOAD: variable("workload", text(parseLabel("workload name")), {
    expected: "a DNS label such as 'web'",
  }),
  BEEMESH_POD: variable("pod", text(parsePodName), {
    expected: "a Podman pod name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
  }),
  BEEMESH_SERVICES: variable("services", PortList.PortList, {
    expected:
      "a comma-separated list of service=appPort such as 'orders=80,admin=9090' (may be empty)",
    default: "",
  }),
  BEEMESH_UPSTREAMS: variable("upstreams", UpstreamList, {
    expected:
      "a comma-separated list of service=localPort or service:portName=localPort such as 'orders=9001,web:metrics=9090' (may be empty)",
    default: "",
  }),
  BEEMESH_AGENT_URL: variable("agentUrl", text(parseAgentUrl), {
    expected: `an http(s) URL such as '${DEFAULT_AGENT_URL}'`,
    default: DEFAULT_AGENT_URL,
  }),
  BEEMESH_POD_TOKEN: variable("podToken", text(parseToken), {
    expected: "the pod token issued by the agent (at least 16 printable characters)",
    secret: true,
  }),
  BEEMESH_ADVERTISE: variable(
    "advertise",
    parsedString(Schema.Array(Schema.String), parseAdvertise, (xs) => xs.join(",")),
    {
      expected: "one or more comma-separated multiaddrs such as '/ip4/127.0.0.1/tcp/40123'",
    },
  ),
  BEEMESH_LISTEN_PORT: variable("listenPort", port, {
    expected: "a TCP port 1-65535",
    default: String(PROXY_PORT),
  }),
  BEEMESH_HEALTH_HOST: variable("healthHost", text(parseIpv4), {
    expected: "an IPv4 address such as '127.0.0.1'",
    default: "127.0.0.1",
  }),
  BEEMESH_HEALTH_PORT: variable("healthPort", port, {
    expected: "a TCP port 1-65535",
    default: String(HEALTH_PORT),
  }),
  BEEMESH_IDENTITY_KEY_FILE: variable("identityKeyFile", text(parseFilePath), {
    expected:
      "an absolute path to a protobuf-encoded Ed25519 private key (unset: ephemeral identity)",
    optional: true,
  }),
  BEEMESH_RELAYS: variable(
    "relays",
    parsedString(Schema.Array(Schema.String), parseRelays, (xs) => xs.join(",")),
    {
      expected:
        "comma-separated relay multiaddrs with the relay's peer id such as '/ip4/10.77.0.11/tcp/4001/p2p/12D3KooW…' (unset: the host is reachable)",
      optional: true,
    },
  ),
  BEEMESH_READINESS_PROBES: variable("readinessProbes", ReadinessProbesJson, {
    expected:
      'a JSON list of probes such as [{"container":"web","action":"httpGet","port":80,"path":"/ready","initialDelaySeconds":0,"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3}] (unset: none)',
    optional: true,
  }),
  BEEMESH_LIVENESS_PROBES: variable("livenessProbes", ReadinessProbesJson, {
    expected:
      'a JSON list of probes in the form of BEEMESH_READINESS_PROBES, such as [{"container":"web","action":"exec","command":["cat","/tmp/alive"],"initialDelaySeconds":0,"periodSeconds":10,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3}] (unset: none)',
    optional: true,
  }),
  BEEMESH_STARTUP_PROBES: variable("startupProbes", ReadinessProbesJson, {
    expected: "a JSON list of probes in the form of BEEMESH_READINESS_PROBES (unset: none)",
    optional: true,
  }),
  BEEMESH_MESH_KEY: variable("meshKey", text(parseMeshKeyHex), {
    expected: "the mesh key issued by the agent, 64 hex digits (unset: an open node)",
    optional: true,
    secret: true,
  }),
  BEEMESH_SAMEHOST_DIR: variable("sameHostDirectory", text(parseFilePath), {
    expected:
      "the absolute path of the host's same-host socket directory in the container, '/run/beemesh/samehost' (unset: other pods are dialled at their network addresses only)",
    optional: true,
  }),
  BEEMESH_MESH_AUTHORITY: variable("meshAuthority", text(parsePeerId), {
    expected: "the mesh authority's libp2p peer id, like 12D3KooW… (unset: no membership check)",
    optional: true,
  }),
} as const

type Name = keyof typeof variables
const names = Object.keys(variables) as ReadonlyArray<Name>
const spec = (name: Name): Variable => variables[name]

type Env = Readonly<Record<string, string | undefined>>

const firstLine = (message: string): string => message.split("\n")[0] ?? message

/** Decodes the sidecar's settings from an environment record; reports every bad variable at once. */
export const decode = (env: Env): Result.Result<SidecarEnvironment, SidecarEnvironmentInvalid> => {
  const problems: Array<Problem> = []
  const values: Record<string, unknown> = {}
  for (const name of names) {
    const v = spec(name)
    const raw = env[name] ?? v.default
    if (raw === undefined) {
      if (v.optional) values[v.field] = undefined
      else
        problems.push({
          variable: name,
          value: undefined,
          expected: v.expected,
          reason: "required",
        })
      continue
    }
    const decoded = v.decode(raw)
    if (Result.isSuccess(decoded))
      values[v.field] = v.secret ? Redacted.make(decoded.success as string) : decoded.success
    else
      problems.push({
        variable: name,
        value: v.secret ? "<redacted>" : raw,
        expected: v.expected,
        reason: firstLine(decoded.failure.message),
      })
  }
  if (problems.length > 0) return Result.fail(new SidecarEnvironmentInvalid({ problems }))
  const settings = values as unknown as SidecarEnvironment
  const clash = portClash(settings, env) ?? tooManyUpstreams(settings.upstreams, env)
  return clash === undefined
    ? Result.succeed(settings)
    : Result.fail(new SidecarEnvironmentInvalid({ problems: [clash] }))
}

/**
 * The environment for a sidecar container. Settings left out are not written (the sidecar applies
 * the defaults); every value is checked by the rule the sidecar decodes it with, so what the
 * agent writes is what the sidecar accepts.
 */
export const encode = (
  input: SidecarEnvironmentInput,
): Result.Result<Record<string, string>, SidecarEnvironmentInvalid> => {
  const env: Record<string, string> = {}
  const problems: Array<Problem> = []
  for (const name of names) {
    const v = spec(name)
    const given: unknown = input[v.field]
    if (given === undefined) continue
    const value = v.secret ? Redacted.value(given as Redacted.Redacted<string>) : given
    const encoded = v.encode(value)
    if (Result.isSuccess(encoded)) env[name] = encoded.success
    else
      problems.push({
        variable: name,
        value: v.secret ? "<redacted>" : JSON.stringify(value),
        expected: v.expected,
        reason: firstLine(encoded.failure.message),
      })
  }
  if (problems.length > 0) return Result.fail(new SidecarEnvironmentInvalid({ problems }))
  const clash =
    portClash(decodedDefaults(input), env) ?? tooManyUpstreams(input.upstreams ?? [], env)
  return clash === undefined
    ? Result.succeed(env)
    : Result.fail(new SidecarEnvironmentInvalid({ problems: [clash] }))
}

const decodedDefaults = (input: SidecarEnvironmentInput) => ({
  services: input.services ?? [],
  upstreams: input.upstreams ?? [],
  listenPort: input.listenPort ?? PROXY_PORT,
  healthPort: input.healthPort ?? HEALTH_PORT,
})

/** Each upstream service gets a loopback address of its own (UpstreamNames): there are that many. */
const tooManyUpstreams = (upstreams: ReadonlyArray<Upstream>, env: Env): Problem | undefined => {
  const services = servicesOf(upstreams).length
  return services <= MAX_UPSTREAMS
    ? undefined
    : {
        variable: "BEEMESH_UPSTREAMS",
        value: env.BEEMESH_UPSTREAMS ?? `${upstreams.length} upstreams`,
        // Counted by service: the ports of one service share its address.
        expected: `at most ${MAX_UPSTREAMS} upstreams (one loopback address each)`,
        reason: `${services} upstreams are listed`,
      }
}

/** The sidecar's own listeners share the pod's loopback with the app: no two may use one port. */
const portClash = (
  s: Pick<SidecarEnvironment, "services" | "upstreams" | "listenPort" | "healthPort">,
  env: Env,
): Problem | undefined => {
  const owners = new Map<number, string>()
  const claims: Array<[string, number]> = [
    ...s.services.map((p): [string, number] => [`BEEMESH_SERVICES (${p.name})`, p.port]),
    ["BEEMESH_LISTEN_PORT", s.listenPort],
    ["BEEMESH_HEALTH_PORT", s.healthPort],
    ...s.upstreams.map((u): [string, number] => [
      `BEEMESH_UPSTREAMS (${describeUpstream(u)})`,
      u.port,
    ]),
  ]
  for (const [owner, port] of claims) {
    const previous = owners.get(port)
    // Two services may point at the same app port; anything else sharing a port is a clash.
    if (
      previous !== undefined &&
      !(previous.startsWith("BEEMESH_SERVICES") && owner.startsWith("BEEMESH_SERVICES"))
    ) {
      const name = owner.split(" ")[0] ?? owner
      return {
        variable: name,
        value: env[name] ?? String(port),
        expected:
          "ports of the sidecar's listeners, its upstreams and the app's services to differ",
        reason: `port ${port} is used by both ${previous} and ${owner}`,
      }
    }
    owners.set(port, owner)
  }
  return undefined
}
