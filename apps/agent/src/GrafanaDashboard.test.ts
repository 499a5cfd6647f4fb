import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { agentFamilies } from "./AgentMetrics"
import { ServiceTraffic } from "./ServiceTraffic"
import { trafficFamilies } from "./TrafficMetrics"

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../../tooling/grafana/beemesh.json"), "utf8"),
) as { panels: ReadonlyArray<{ targets: ReadonlyArray<{ expr: string }> }> }

describe("the Grafana dashboard (tooling/grafana/beemesh.json)", () => {
  it("queries only metrics this agent exposes", () => {
    const families = [
      ...agentFamilies({ workloads: [], dhtPeers: 0, residentMemoryBytes: 0 }),
      ...trafficFamilies(new ServiceTraffic().view()),
    ]
    const exposed = new Set(
      families.flatMap((f) =>
        f.type === "histogram"
          ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`]
          : [f.name],
      ),
    )
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) => t.expr.match(/beemesh_[a-z_]+/g) ?? []),
    )
    expect(used.length).toBeGreaterThan(5)
    expect(used.filter((name) => !exposed.has(name))).toEqual([])
  })
})
