/**
 * The sidecar's configuration, read once from `BEEMESH_*` environment variables and decoded with
 * Schema. Every variable has its own schema and a human description of the expected form, so that
 * a bad value is reported as "which variable, what value, what was expected".
 */
import { multiaddr } from "@multiformats/multiaddr"
import { Context, Data, Effect, Layer, Redacted, Result, Schema, SchemaGetter } from "effect"

export interface ServicePort {
  /** Service name as registered with the agent (DNS label). */
  readonly name: string
  /** The app's port on 127.0.0.1 inside the pod. */
  readonly port: number
}

export interface UpstreamPort {
  /** Service the app wants to reach. */
  readonly service: string
  /** Local port the sidecar listens on (127.0.0.1) for that service. */
  readonly port: number
}

export interface SidecarSettings {
  readonly namespace: string
  readonly workload: string
  readonly pod: string
  readonly services: ReadonlyArray<ServicePort>
  readonly upstreams: ReadonlyArray<UpstreamPort>
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
   * Where the host's loopback is reached from this pod: providers advertised on 127.0.0.0/8 are
   * dialled there instead. "auto": the address of host.containers.internal in /etc/hosts, if any.
   */
  readonly hostLoopback: HostLoopback
}

export type HostLoopback =
  | { readonly _tag: "Auto" }
  | { readonly _tag: "None" }
  | { readonly _tag: "Address"; readonly address: string }

export class SidecarConfig extends Context.Service<SidecarConfig, SidecarSettings>()(
  "@beemesh/sidecar/SidecarConfig",
) {
  static readonly layer = (settings: SidecarSettings) => Layer.succeed(SidecarConfig, settings)
}

/** One variable that failed to decode. */
export interface ConfigProblem {
  readonly variable: string
  /** The offending value as printed in the message (secrets are masked). */
  readonly value: string | undefined
  readonly expected: string
  readonly reason: string
}

export class SidecarConfigInvalid extends Data.TaggedError("SidecarConfigInvalid")<{
  readonly problems: ReadonlyArray<ConfigProblem>
}> {
  override get message(): string {
    const lines = this.problems.map((p) => {
      const shown = p.value === undefined ? "is not set" : `=${JSON.stringify(p.value)}`
      return `  ${p.variable}${p.value === undefined ? " " : ""}${shown}: ${p.reason}; expected ${p.expected}`
    })
    return `invalid sidecar configuration:\n${lines.join("\n")}`
  }
}

// ---------------------------------------------------------------------------------------------
// Field rules (exported for tests)

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/
const POD_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$/

/** A filter + transform pair: `parse` returns the value or a reason string. */
const parsedString = <T>(
  to: Schema.Codec<T, T>,
  parse: (input: string) => Result.Result<T, string>,
  format: (value: T) => string,
) =>
  Schema.String.pipe(
    Schema.check(
      Schema.makeFilter((s: string) => {
        const r = parse(s)
        return Result.isFailure(r) ? r.failure : undefined
      }),
    ),
    Schema.decodeTo(to, {
      decode: SchemaGetter.transform((s: string) => Result.getOrThrow(parse(s))),
      encode: SchemaGetter.transform(format),
    }),
  )

export const parsePort = (raw: string): Result.Result<number, string> => {
  const s = raw.trim()
  if (!/^\d+$/.test(s)) return Result.fail(`"${raw}" is not a port number`)
  const n = Number(s)
  return n >= 1 && n <= 65535 ? Result.succeed(n) : Result.fail(`port ${n} is outside 1-65535`)
}

const parseLabel =
  (what: string) =>
  (raw: string): Result.Result<string, string> =>
    DNS_LABEL.test(raw)
      ? Result.succeed(raw)
      : Result.fail(
          `"${raw}" is not a valid ${what} (lowercase letters, digits and '-', 1-63 characters)`,
        )

/** `name=port,name=port`, names unique; the empty string is the empty list. */
export const parsePortMap = (raw: string): Result.Result<ReadonlyArray<ServicePort>, string> => {
  const out: Array<ServicePort> = []
  if (raw.trim() === "") return Result.succeed(out)
  for (const entry of raw.split(",")) {
    const item = entry.trim()
    const eq = item.indexOf("=")
    if (eq < 0) return Result.fail(`entry "${item}" has no '='`)
    const name = item.slice(0, eq).trim()
    const label = parseLabel("service name")(name)
    if (Result.isFailure(label)) return Result.fail(label.failure)
    const port = parsePort(item.slice(eq + 1))
    if (Result.isFailure(port)) return Result.fail(`entry "${item}": ${port.failure}`)
    if (out.some((p) => p.name === name)) return Result.fail(`service "${name}" appears twice`)
    out.push({ name, port: port.success })
  }
  return Result.succeed(out)
}

export const parseAgentUrl = (raw: string): Result.Result<string, string> => {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || !URL.canParse(raw))
    return Result.fail(`"${raw}" is not a URL`)
  const url = new URL(raw)
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return Result.fail(`scheme ${url.protocol} is not http or https`)
  if (url.search !== "" || url.hash !== "")
    return Result.fail("the URL must not carry a query or fragment")
  return Result.succeed(url.href.replace(/\/+$/, ""))
}

export const parseAdvertise = (raw: string): Result.Result<ReadonlyArray<string>, string> => {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  if (items.length === 0) return Result.fail("no address given")
  for (const item of items) {
    const parsed = Result.try(() => multiaddr(item))
    if (Result.isFailure(parsed)) return Result.fail(`"${item}" is not a multiaddr`)
    const protos = parsed.success.getComponents().map((c) => c.name)
    const host = protos[0]
    if (
      !(host === "ip4" || host === "ip6" || host === "dns4" || host === "dns6" || host === "dns") ||
      protos[1] !== "tcp"
    )
      return Result.fail(`"${item}" is not a TCP address (/ip4|/ip6|/dns4|/dns6/<host>/tcp/<port>)`)
  }
  return Result.succeed(items)
}

export const parseToken = (raw: string): Result.Result<string, string> =>
  raw.length >= 16 && /^[\x21-\x7e]+$/.test(raw)
    ? Result.succeed(raw)
    : Result.fail("the token must be at least 16 printable characters without spaces")

export const parseHost = (raw: string): Result.Result<string, string> =>
  /^(\d{1,3})(\.\d{1,3}){3}$/.test(raw) && raw.split(".").every((o) => Number(o) <= 255)
    ? Result.succeed(raw)
    : Result.fail(`"${raw}" is not an IPv4 address`)

export const parseFilePath = (raw: string): Result.Result<string, string> =>
  raw.startsWith("/") ? Result.succeed(raw) : Result.fail(`"${raw}" is not an absolute path`)

export const parseHostLoopback = (raw: string): Result.Result<HostLoopback, string> => {
  if (raw === "auto") return Result.succeed({ _tag: "Auto" })
  if (raw === "none") return Result.succeed({ _tag: "None" })
  const host = parseHost(raw)
  return Result.isSuccess(host)
    ? Result.succeed({ _tag: "Address", address: host.success })
    : Result.fail(`"${raw}" is neither auto, none nor an IPv4 address`)
}

const HostLoopbackSchema = Schema.Union([
  Schema.Struct({ _tag: Schema.Literal("Auto") }),
  Schema.Struct({ _tag: Schema.Literal("None") }),
  Schema.Struct({ _tag: Schema.Literal("Address"), address: Schema.String }),
])
const formatHostLoopback = (h: HostLoopback) =>
  h._tag === "Address" ? h.address : h._tag === "Auto" ? "auto" : "none"

const PortMap = Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Number }))
const StringList = Schema.Array(Schema.String)
const joinPorts = (ps: ReadonlyArray<ServicePort>) => ps.map((p) => `${p.name}=${p.port}`).join(",")
const same = (s: string) => s

interface Variable<T> {
  readonly schema: Schema.Codec<T, string>
  readonly expected: string
  readonly default?: string
  readonly secret?: boolean
}

const variable = <T>(v: Variable<T>) => v

/** Every variable the sidecar reads, with its rule, expected form and default. */
export const variables = {
  BEEMESH_NAMESPACE: variable({
    schema: parsedString(Schema.String, parseLabel("namespace"), same),
    expected: "a DNS label such as 'default'",
  }),
  BEEMESH_WORKLOAD: variable({
    schema: parsedString(Schema.String, parseLabel("workload name"), same),
    expected: "a DNS label such as 'web'",
  }),
  BEEMESH_POD: variable({
    schema: parsedString(
      Schema.String,
      (s) => (POD_NAME.test(s) ? Result.succeed(s) : Result.fail(`"${s}" is not a valid pod name`)),
      same,
    ),
    expected: "a Podman pod name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
  }),
  BEEMESH_SERVICES: variable({
    schema: parsedString(PortMap, parsePortMap, joinPorts),
    expected:
      "a comma-separated list of service=appPort such as 'orders=80,admin=9090' (may be empty)",
    default: "",
  }),
  BEEMESH_UPSTREAMS: variable({
    schema: parsedString(PortMap, parsePortMap, joinPorts),
    expected: "a comma-separated list of service=localPort such as 'orders=9001' (may be empty)",
    default: "",
  }),
  BEEMESH_AGENT_URL: variable({
    schema: parsedString(Schema.String, parseAgentUrl, same),
    expected: "an http(s) URL such as 'http://host.containers.internal:8080'",
    default: "http://host.containers.internal:8080",
  }),
  BEEMESH_POD_TOKEN: variable({
    schema: parsedString(Schema.String, parseToken, same),
    expected: "the pod token issued by the agent (at least 16 printable characters)",
    secret: true,
  }),
  BEEMESH_ADVERTISE: variable({
    schema: parsedString(StringList, parseAdvertise, (xs) => xs.join(",")),
    expected: "one or more comma-separated multiaddrs such as '/ip4/127.0.0.1/tcp/40123'",
  }),
  BEEMESH_LISTEN_PORT: variable({
    schema: parsedString(Schema.Number, parsePort, String),
    expected: "a TCP port 1-65535",
    default: "8080",
  }),
  BEEMESH_HEALTH_HOST: variable({
    schema: parsedString(Schema.String, parseHost, same),
    expected: "an IPv4 address such as '127.0.0.1'",
    default: "127.0.0.1",
  }),
  BEEMESH_HEALTH_PORT: variable({
    schema: parsedString(Schema.Number, parsePort, String),
    expected: "a TCP port 1-65535",
    default: "8081",
  }),
  BEEMESH_IDENTITY_KEY_FILE: variable({
    schema: parsedString(Schema.String, parseFilePath, same),
    expected:
      "an absolute path to a protobuf-encoded Ed25519 private key (unset: ephemeral identity)",
  }),
  BEEMESH_HOST_LOOPBACK: variable({
    schema: parsedString(HostLoopbackSchema, parseHostLoopback, formatHostLoopback),
    expected:
      "auto (host.containers.internal from /etc/hosts), none, or the IPv4 address at which this pod reaches the host's loopback, e.g. 10.0.2.2",
    default: "auto",
  }),
} as const

type Vars = typeof variables
type Decoded = { readonly [K in keyof Vars]: Vars[K] extends Variable<infer T> ? T : never }
const OPTIONAL: ReadonlySet<keyof Vars> = new Set(["BEEMESH_IDENTITY_KEY_FILE"])

/** Decodes the sidecar's settings from an environment record; reports every bad variable at once. */
export const decodeSettings = (
  env: Readonly<Record<string, string | undefined>>,
): Effect.Effect<SidecarSettings, SidecarConfigInvalid> =>
  Effect.suspend(() => {
    const problems: Array<ConfigProblem> = []
    const values: Partial<Record<keyof Vars, unknown>> = {}
    for (const key of Object.keys(variables) as Array<keyof Vars>) {
      const spec: Variable<unknown> = variables[key]
      const raw = env[key] ?? spec.default
      if (raw === undefined) {
        if (!OPTIONAL.has(key))
          problems.push({
            variable: key,
            value: undefined,
            expected: spec.expected,
            reason: "required",
          })
        continue
      }
      const decoded = Schema.decodeUnknownResult(spec.schema)(raw)
      if (Result.isSuccess(decoded)) values[key] = decoded.success
      else
        problems.push({
          variable: key,
          value: spec.secret ? "<redacted>" : raw,
          expected: spec.expected,
          reason: firstLine(decoded.failure.message),
        })
    }
    if (problems.length > 0) return Effect.fail(new SidecarConfigInvalid({ problems }))
    const v = values as Decoded
    const settings: SidecarSettings = {
      namespace: v.BEEMESH_NAMESPACE,
      workload: v.BEEMESH_WORKLOAD,
      pod: v.BEEMESH_POD,
      services: v.BEEMESH_SERVICES,
      upstreams: v.BEEMESH_UPSTREAMS.map((u) => ({ service: u.name, port: u.port })),
      agentUrl: v.BEEMESH_AGENT_URL,
      podToken: Redacted.make(v.BEEMESH_POD_TOKEN),
      advertise: v.BEEMESH_ADVERTISE,
      listenPort: v.BEEMESH_LISTEN_PORT,
      healthHost: v.BEEMESH_HEALTH_HOST,
      healthPort: v.BEEMESH_HEALTH_PORT,
      identityKeyFile: v.BEEMESH_IDENTITY_KEY_FILE,
      hostLoopback: v.BEEMESH_HOST_LOOPBACK,
    }
    const clash = portClash(settings, env)
    return clash === undefined
      ? Effect.succeed(settings)
      : Effect.fail(new SidecarConfigInvalid({ problems: [clash] }))
  })

/** The sidecar's own listeners share the pod's loopback with the app: no two may use one port. */
const portClash = (
  s: SidecarSettings,
  env: Readonly<Record<string, string | undefined>>,
): ConfigProblem | undefined => {
  const owners = new Map<number, string>()
  const claims: Array<[string, number]> = [
    ...s.services.map((p): [string, number] => [`BEEMESH_SERVICES (${p.name})`, p.port]),
    ["BEEMESH_LISTEN_PORT", s.listenPort],
    ["BEEMESH_HEALTH_PORT", s.healthPort],
    ...s.upstreams.map((u): [string, number] => [`BEEMESH_UPSTREAMS (${u.service})`, u.port]),
  ]
  for (const [owner, port] of claims) {
    const previous = owners.get(port)
    // Two services may point at the same app port; anything else sharing a port is a clash.
    if (
      previous !== undefined &&
      !(previous.startsWith("BEEMESH_SERVICES") && owner.startsWith("BEEMESH_SERVICES"))
    ) {
      const variable = owner.split(" ")[0] ?? owner
      return {
        variable,
        value: env[variable] ?? String(port),
        expected:
          "ports of the sidecar's listeners, its upstreams and the app's services to differ",
        reason: `port ${port} is used by both ${previous} and ${owner}`,
      }
    }
    owners.set(port, owner)
  }
  return undefined
}

const firstLine = (text: string): string => text.split("\n")[0] ?? text
