/**
 * The running agent: network validation, then the libp2p host node and the DHT registry, the Podman
 * client (an embedded `podman system service` when none answers), the deployer (sweep, adoption,
 * reconcile) and the HTTP API. Everything is scoped: closing the scope stops it in reverse order.
 */
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import {
  gatewayAddress,
  netnsLayer,
  Preflight,
  type PreflightReport,
  preflightReportJson,
} from "@beemesh/netns"
import { PodmanClient } from "@beemesh/podman"
import { Libp2pNode, type ManifestRecord, Registry } from "@beemesh/registry"
import { Context, Data, Effect, Layer } from "effect"
import type { AgentConfig } from "./Config"
import { deployerLayer } from "./Deployer"
import { ServiceDirectory } from "./Directory"
import { makeApi } from "./http/Api"
import { serveApi } from "./http/Server"
import { registryDirectoryLayer } from "./RegistryDirectory"
import { loadOrCreateSecret } from "./Tokens"
import { WorkloadManager } from "./Workloads"

export class ValidationFailed extends Data.TaggedError("ValidationFailed")<{
  readonly report: PreflightReport
}> {
  override get message() {
    const failed = this.report.checks.filter((c) => !c.ok)
    return [
      "network validation failed; the agent does not start:",
      ...failed.map(
        (c) =>
          `  ✗ ${c.name}: ${c.detail}${c.error && "hint" in c.error ? ` — fix: ${String(c.error.hint)}` : ""}`,
      ),
      "Run `beemesh-agent doctor` for the whole report.",
    ].join("\n")
  }
}

export interface Environment {
  readonly containerHost: string | undefined
  readonly xdgRuntimeDir: string | undefined
  readonly uid: number
  readonly user: string
}

export interface RunningAgent {
  readonly apiUrl: string
  readonly peerId: string
  readonly multiaddrs: ReadonlyArray<string>
  readonly operatorTokenFile: string
}

const rootlessCheck = (environment: Environment) =>
  environment.uid === 0 ? {} : { rootless: { user: environment.user, uid: environment.uid } }

/** Runs the host checks and renders them for people. */
export const doctor = (config: AgentConfig, environment: Environment) =>
  Effect.gen(function* () {
    const preflight = yield* Preflight
    return yield* preflight.check({ slirpOptions: config.slirp, ...rootlessCheck(environment) })
  }).pipe(Effect.provide(netnsLayer()))

export const renderReport = (report: PreflightReport) =>
  [
    `network validation: ${report.ok ? "ok" : "FAILED"}`,
    ...report.checks.map((c) => `  ${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`),
  ].join("\n")

/** Starts the agent in the current scope. */
export const startAgent = (config: AgentConfig, environment: Environment) =>
  Effect.gen(function* () {
    const report = yield* doctor(config, environment)
    if (!report.ok) return yield* new ValidationFailed({ report })
    yield* Effect.logInfo("network validation passed")

    yield* Effect.promise(() => mkdir(config.dataDir, { recursive: true, mode: 0o700 }))
    const operatorTokenFile = join(config.dataDir, "operator-token")
    const operatorToken = yield* loadOrCreateSecret(operatorTokenFile)
    const podTokenKey = yield* loadOrCreateSecret(join(config.dataDir, "pod-token.key"))

    const node = Libp2pNode.layer({
      listen: config.listen,
      bootstrap: config.bootstrap,
      keyFile: join(config.dataDir, "identity.key"),
    })
    // Sidecars resolve per connection with a deadline of a few seconds; a lookup waits out every
    // unreachable peer (a host just lost), so answers come from the last lookup while it refreshes.
    const registryLayer = Registry.layer({ serveStale: true })
    const base = Layer.mergeAll(
      registryDirectoryLayer().pipe(Layer.provideMerge(registryLayer), Layer.provideMerge(node)),
      PodmanClient.layer({
        ...(config.podmanSocket === undefined ? {} : { socketPath: config.podmanSocket }),
        ...(environment.containerHost === undefined
          ? {}
          : { containerHost: environment.containerHost }),
        ...(environment.xdgRuntimeDir === undefined
          ? {}
          : { xdgRuntimeDir: environment.xdgRuntimeDir }),
        embedded: "fallback",
      }),
      netnsLayer(),
    )
    const context = yield* Layer.build(base)
    const host = Context.get(context, Libp2pNode)
    const podman = Context.get(context, PodmanClient)
    const peerId = host.peerId.toString()
    yield* Effect.logInfo(
      `libp2p node ${peerId} listening on ${host.multiaddrs().map(String).join(", ")}; Podman at ${podman.socketPath}${podman.embedded ? " (embedded service)" : ""}`,
    )

    const deployer = yield* Layer.build(
      deployerLayer({
        owner: peerId,
        sidecarImage: config.sidecarImage,
        slirp: config.slirp,
        advertiseHost: config.advertiseHost,
        apiPort: config.apiPort,
        podTokenKey,
        stateFile: join(config.dataDir, "workloads.json"),
        rootless: environment.uid !== 0,
      }).pipe(Layer.provide(Layer.succeedContext(context))),
    )
    const workloads = Context.get(deployer, WorkloadManager)
    const directory = Context.get(context, ServiceDirectory)

    const services = yield* Effect.context<never>()
    const gateway = gatewayAddress(config.slirp)
    const registry = Context.get(context, Registry)
    const toStored = (record: ManifestRecord.ManifestRecord) => ({
      namespace: record.namespace,
      name: record.name,
      publisher: record.publisher,
      issuedAt: record.issuedAt,
      sequence: record.sequence,
      content: record.content,
    })
    const app = makeApi({
      manifests: {
        put: (namespace, name, content) =>
          registry.putManifest(namespace, name, content).pipe(Effect.map(toStored)),
        get: (namespace, name) => registry.getManifest(namespace, name).pipe(Effect.map(toStored)),
      },
      runExit: (effect) => Effect.runPromiseExitWith(services)(effect),
      addressForPods: (address) =>
        address.replace(/^\/ip4\/127\.\d+\.\d+\.\d+\//, `/ip4/${gateway}/`),
      workloads,
      directory,
      operatorToken,
      podTokenKey,
      health: async () => ({
        ok: report.ok,
        peerId,
        multiaddrs: host.multiaddrs().map(String),
        podman: { socket: podman.socketPath, embedded: podman.embedded },
        validation: preflightReportJson(report),
      }),
      metrics: async () => {
        const statuses = await Effect.runPromise(workloads.list())
        const lines = [
          "# HELP beemesh_agent_workloads Workloads deployed on this agent.",
          "# TYPE beemesh_agent_workloads gauge",
          `beemesh_agent_workloads ${statuses.length}`,
          "# HELP beemesh_agent_replicas_ready Replicas running, per workload.",
          "# TYPE beemesh_agent_replicas_ready gauge",
          ...statuses.map(
            (s) =>
              `beemesh_agent_replicas_ready{namespace="${s.namespace}",workload="${s.name}"} ${s.ready}`,
          ),
          "# HELP beemesh_agent_replica_restarts_total Pods recreated by the reconcile loop, per workload.",
          "# TYPE beemesh_agent_replica_restarts_total counter",
          ...statuses.map(
            (s) =>
              `beemesh_agent_replica_restarts_total{namespace="${s.namespace}",workload="${s.name}"} ${s.pods.reduce((n, p) => n + p.restarts, 0)}`,
          ),
          "# HELP beemesh_agent_dht_peers Peers in the DHT routing table.",
          "# TYPE beemesh_agent_dht_peers gauge",
          `beemesh_agent_dht_peers ${host.routingTableSize()}`,
          "# HELP beemesh_agent_resident_memory_bytes Resident memory of the agent process.",
          "# TYPE beemesh_agent_resident_memory_bytes gauge",
          `beemesh_agent_resident_memory_bytes ${process.memoryUsage.rss()}`,
          "",
        ]
        return lines.join("\n")
      },
    })
    const port = yield* serveApi(app, config.apiHost, config.apiPort)
    const apiUrl = `http://${config.apiHost.includes(":") ? `[${config.apiHost}]` : config.apiHost}:${port}`
    yield* Effect.logInfo(`HTTP API on ${apiUrl}; operator token in ${operatorTokenFile}`)
    return {
      apiUrl,
      peerId,
      multiaddrs: host.multiaddrs().map(String),
      operatorTokenFile,
    } satisfies RunningAgent
  })
