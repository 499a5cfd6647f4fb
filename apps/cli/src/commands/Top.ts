/**
 * `beemesh top`: traffic per service and caller→callee pair, from the agent's `/v1/traffic`
 * (the series of its `beemesh_service_*` metrics).
 */
import { Effect } from "effect"
import type { TrafficSeries, TrafficView } from "../Api"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import type { Io } from "../Io"
import { renderData, renderTable } from "../Output"

/** 1.5 KiB, 12 MiB: binary units, one decimal below 10. */
export const bytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0
    ? `${n} B`
    : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

const meanSetup = (s: TrafficSeries): string => {
  const count = s.setupBuckets.reduce((a, b) => a + b, 0)
  return count === 0 ? "-" : `${((s.setupSumSeconds / count) * 1000).toFixed(1)} ms`
}

export const trafficRows = (series: ReadonlyArray<TrafficSeries>) =>
  renderTable(
    [
      "NAMESPACE",
      "SERVICE",
      "CALLER",
      "CALLEE",
      "REPORTER",
      "CONNS",
      "SENT",
      "RECEIVED",
      "ERRORS",
      "REFUSED",
      "SETUP",
    ],
    series.map((s) => [
      s.namespace,
      s.service || "(other)",
      s.caller || "-",
      s.callee || "-",
      s.reporter,
      String(s.connections),
      bytes(s.bytesSent),
      bytes(s.bytesReceived),
      String(s.errors),
      String(s.refused),
      meanSetup(s),
    ]),
  )

export const top = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const [extra] = invocation.positionals
    if (extra !== undefined) return yield* o.usage(`unexpected argument "${extra}"`)
    const format = yield* o.output()
    const namespace = o.string("namespace")
    const view = yield* client.json<TrafficView>("GET", "/v1/traffic")
    const series =
      namespace === undefined ? view.series : view.series.filter((s) => s.namespace === namespace)
    io.out(
      format === "table"
        ? trafficRows(series)
        : renderData(format, { setupBucketsSeconds: view.setupBucketsSeconds, series }),
    )
    return 0
  })
