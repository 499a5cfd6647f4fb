/**
 * The `name=port,name=port` form both sides write lists of services in: the agent reads it from
 * the `beemesh.io/services` and `beemesh.io/upstreams` annotations and writes it into the
 * sidecar's `BEEMESH_SERVICES` and `BEEMESH_UPSTREAMS`; the sidecar reads it back. Names are
 * DNS-1123 labels and appear once; ports are TCP ports written in decimal digits.
 */
import { Result, Schema } from "effect"
import * as DnsLabel from "./DnsLabel.js"
import { parsedString } from "./internal/parsedString.js"

export interface NamedPort {
  readonly name: string
  readonly port: number
}

/** Why a list was refused: `reason` is the whole sentence; `kind` lets a caller reword it. */
export interface PortListProblem {
  readonly kind: "entry" | "name" | "port" | "duplicate"
  /** The entry as written (`entry`, `port`) or the name (`name`, `duplicate`). */
  readonly subject: string
  readonly reason: string
}

/** A TCP port 1-65535 in decimal digits (surrounding blanks ignored). */
export const parsePort = (raw: string): Result.Result<number, string> => {
  const s = raw.trim()
  if (!/^\d+$/.test(s)) return Result.fail(`"${raw}" is not a port number`)
  const n = Number(s)
  return n >= 1 && n <= 65535 ? Result.succeed(n) : Result.fail(`port ${n} is outside 1-65535`)
}

/** `name=port,name=port`; blanks around names, ports and entries are ignored; "" is the empty list. */
export const parse = (raw: string): Result.Result<ReadonlyArray<NamedPort>, PortListProblem> => {
  const out: Array<NamedPort> = []
  if (raw.trim() === "") return Result.succeed(out)
  for (const entry of raw.split(",")) {
    const item = entry.trim()
    const eq = item.indexOf("=")
    if (eq < 0)
      return Result.fail({
        kind: "entry",
        subject: item,
        reason: `entry "${item}" has no '='`,
      })
    const name = item.slice(0, eq).trim()
    const nameProblem = DnsLabel.problem(name)
    if (nameProblem !== undefined)
      return Result.fail({
        kind: "name",
        subject: name,
        reason: `"${name}" is not a valid service name: it is ${nameProblem}`,
      })
    const port = parsePort(item.slice(eq + 1))
    if (Result.isFailure(port))
      return Result.fail({
        kind: "port",
        subject: item,
        reason: `entry "${item}": ${port.failure}`,
      })
    if (out.some((p) => p.name === name))
      return Result.fail({
        kind: "duplicate",
        subject: name,
        reason: `service "${name}" appears twice`,
      })
    out.push({ name, port: port.success })
  }
  return Result.succeed(out)
}

export const format = (list: ReadonlyArray<NamedPort>): string =>
  list.map((p) => `${p.name}=${p.port}`).join(",")

const NamedPorts = Schema.Array(Schema.Struct({ name: Schema.String, port: Schema.Number }))

/** The list as a Schema from its string form; encoding checks the list by the same rules. */
export const PortList: Schema.Codec<ReadonlyArray<NamedPort>, string> = parsedString(
  NamedPorts,
  (raw) => Result.mapError(parse(raw), (problem) => problem.reason),
  format,
)
