/** `beemesh get workloads|pods|services|peers`: tables, or the agent's JSON as JSON or YAML. */
import { Effect } from "effect"
import type { PeersView, ServiceView, WorkloadStatus } from "../Api"
import { type Invocation, options } from "../Cli"
import type { AgentClient } from "../Client"
import type { Io } from "../Io"
import { age, renderData, renderTable } from "../Output"

export const KINDS = ["workloads", "pods", "services", "peers"] as const
const ALIASES: Readonly<Record<string, (typeof KINDS)[number]>> = {
  workload: "workloads",
  workloads: "workloads",
  wl: "workloads",
  pod: "pods",
  pods: "pods",
  service: "services",
  services: "services",
  svc: "services",
  peer: "peers",
  peers: "peers",
}

export const kindOf = (word: string | undefined) => (word === undefined ? undefined : ALIASES[word])

export const workloadRows = (workloads: ReadonlyArray<WorkloadStatus>) =>
  renderTable(
    ["NAMESPACE", "NAME", "KIND", "READY", "SERVICES"],
    workloads.map((w) => [
      w.namespace,
      w.name,
      w.kind,
      `${w.ready}/${w.replicas}`,
      w.services.map((s) => `${s.name}:${s.port}`).join(",") || "-",
    ]),
  )

export const podRows = (workloads: ReadonlyArray<WorkloadStatus>) =>
  renderTable(
    ["NAMESPACE", "WORKLOAD", "POD", "PHASE", "RESTARTS", "HOST-PORT", "MESSAGE"],
    workloads.flatMap((w) =>
      w.pods.map((p) => [
        w.namespace,
        w.name,
        p.pod,
        p.phase,
        String(p.restarts),
        p.hostPort === undefined ? "-" : String(p.hostPort),
        p.message ?? "",
      ]),
    ),
  )

export const serviceRows = (services: ReadonlyArray<ServiceView>) =>
  renderTable(
    ["NAMESPACE", "SERVICE", "OFFERED-BY", "PROVIDERS", "PODS"],
    services.map((s) => [
      s.namespace,
      s.name,
      s.offeredBy.map((o) => `${o.workload}:${o.port}`).join(","),
      s.error === undefined ? String(s.providers.length) : `? (${s.error})`,
      s.providers.map((p) => p.pod).join(",") || "-",
    ]),
  )

export const peerRows = (peers: PeersView, now: number) =>
  `agent ${peers.peerId}; DHT routing table: ${peers.dhtRoutingTableSize} peers\n${renderTable(
    ["PEER", "DIRECTION", "ADDRESS", "AGE"],
    peers.connections.map((c) => [c.peerId, c.direction, c.address, age(c.openedAt, now)]),
  )}`

export const get = (invocation: Invocation, client: AgentClient, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const [word, extra] = invocation.positionals
    const kind = kindOf(word)
    if (kind === undefined) {
      return yield* o.usage(
        word === undefined
          ? `get needs a kind: ${KINDS.join(", ")}`
          : `unknown kind "${word}"; kinds: ${KINDS.join(", ")}`,
      )
    }
    if (extra !== undefined) return yield* o.usage(`unexpected argument "${extra}"`)
    const format = yield* o.output()
    const namespace = o.string("namespace")
    const inNamespace = <A extends { readonly namespace: string }>(items: ReadonlyArray<A>) =>
      namespace === undefined ? items : items.filter((i) => i.namespace === namespace)
    const print = (data: unknown, table: () => string) =>
      io.out(format === "table" ? table() : renderData(format, data))

    switch (kind) {
      case "workloads":
      case "pods": {
        const { workloads } = yield* client.json<{ workloads: ReadonlyArray<WorkloadStatus> }>(
          "GET",
          "/v1/workloads",
        )
        const chosen = inNamespace(workloads)
        if (kind === "workloads") print({ workloads: chosen }, () => workloadRows(chosen))
        else
          print(
            {
              pods: chosen.flatMap((w) =>
                w.pods.map((p) => ({ namespace: w.namespace, workload: w.name, ...p })),
              ),
            },
            () => podRows(chosen),
          )
        break
      }
      case "services": {
        const { services } = yield* client.json<{ services: ReadonlyArray<ServiceView> }>(
          "GET",
          "/v1/services",
        )
        const chosen = inNamespace(services)
        print({ services: chosen }, () => serviceRows(chosen))
        break
      }
      case "peers": {
        const peers = yield* client.json<PeersView>("GET", "/v1/peers")
        print(peers, () => peerRows(peers, io.now()))
        break
      }
    }
    return 0
  })
