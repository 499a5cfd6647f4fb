/**
 * The `service=localPort` list of a pod's upstreams, as the agent reads it from the
 * `beemesh.io/upstreams` annotation and writes it into the sidecar's `BEEMESH_UPSTREAMS`; the
 * sidecar reads it back. It is PortList's form, where a name may also name one port of a
 * multi-port Service: `web:metrics=9090` is port `metrics` of Service `web`, which the app then
 * reaches at `web:9090` (UpstreamNames).
 */
import { Result, Schema } from "effect"
import * as DnsLabel from "./DnsLabel.js"
import { parsedString } from "./internal/parsedString.js"
import type { PortListProblem } from "./PortList.js"
import { parsePort } from "./PortList.js"
import { registrationName } from "./UpstreamNames.js"

/** A service the app wants to reach, and the port on the pod's loopback it reaches it at. */
export interface Upstream {
  readonly service: string
  readonly port: number
  /** The name of one port of a multi-port Service; absent: the service by its name alone. */
  readonly servicePort?: string | undefined
}

/** What the upstream is called in the list: `web` or `web:metrics`. */
export const describe = (upstream: Pick<Upstream, "service" | "servicePort">): string =>
  upstream.servicePort === undefined
    ? upstream.service
    : `${upstream.service}:${upstream.servicePort}`

/** The name the upstream's connections are resolved by in the registry. */
export const registered = (upstream: Pick<Upstream, "service" | "servicePort">): string =>
  registrationName(upstream.service, upstream.servicePort)

/** Why a list was refused: PortList's kinds, and a bad port name after ':'. */
export interface UpstreamListProblem {
  readonly kind: PortListProblem["kind"] | "portName"
  readonly subject: string
  readonly reason: string
}

/** Why `portName` cannot name a port of `service` in an upstream; undefined when it can. */
const portNameProblem = (service: string, portName: string): string | undefined => {
  const problem = DnsLabel.problem(portName)
  if (problem !== undefined) return `the port name after ':' is ${problem}`
  const name = registrationName(service, portName)
  const long = DnsLabel.problem(name)
  return long === undefined ? undefined : `its registered name ${name} is ${long}`
}

/** `service=port` or `service:portName=port`, comma-separated; "" is the empty list. */
export const parse = (raw: string): Result.Result<ReadonlyArray<Upstream>, UpstreamListProblem> => {
  const out: Array<Upstream> = []
  if (raw.trim() === "") return Result.succeed(out)
  for (const entry of raw.split(",")) {
    const item = entry.trim()
    const eq = item.indexOf("=")
    if (eq < 0)
      return Result.fail({ kind: "entry", subject: item, reason: `entry "${item}" has no '='` })
    const left = item.slice(0, eq).trim()
    const colon = left.indexOf(":")
    const service = colon < 0 ? left : left.slice(0, colon)
    const nameProblem = DnsLabel.problem(service)
    if (nameProblem !== undefined)
      return Result.fail({
        kind: "name",
        subject: service,
        reason: `"${service}" is not a valid service name: it is ${nameProblem}`,
      })
    const servicePort = colon < 0 ? undefined : left.slice(colon + 1)
    const portProblem =
      servicePort === undefined ? undefined : portNameProblem(service, servicePort)
    if (portProblem !== undefined)
      return Result.fail({ kind: "portName", subject: left, reason: `"${left}": ${portProblem}` })
    const port = parsePort(item.slice(eq + 1))
    if (Result.isFailure(port))
      return Result.fail({
        kind: "port",
        subject: item,
        reason: `entry "${item}": ${port.failure}`,
      })
    // Keys in this order: the agent's spec hash is of the workload's JSON as read.
    const upstream: Upstream =
      servicePort === undefined
        ? { service, port: port.success }
        : { service, port: port.success, servicePort }
    if (out.some((u) => registered(u) === registered(upstream)))
      return Result.fail({
        kind: "duplicate",
        subject: describe(upstream),
        reason:
          servicePort === undefined
            ? `service "${service}" appears twice`
            : `port ${servicePort} of service "${service}" appears twice`,
      })
    out.push(upstream)
  }
  return Result.succeed(out)
}

export const format = (list: ReadonlyArray<Upstream>): string =>
  list.map((u) => `${describe(u)}=${u.port}`).join(",")

const Upstreams = Schema.Array(
  Schema.Struct({
    service: Schema.String,
    port: Schema.Number,
    servicePort: Schema.optional(Schema.String),
  }),
)

/** The list as a Schema from its string form; encoding checks the list by the same rules. */
export const UpstreamList: Schema.Codec<ReadonlyArray<Upstream>, string> = parsedString(
  Upstreams,
  (raw) => Result.mapError(parse(raw), (problem) => problem.reason),
  format,
)
