/**
 * The agent's parts as Layers over its settings. `agentLayer` stacks them so that they start in
 * the order network validation → data directory and secrets → libp2p node → registry and service
 * directory, Podman → deployer (sweep, adoption, reconcile) → HTTP API, and stop in the reverse
 * order: API off, reconcile stopped, Podman client and embedded service, registry, node.
 * Pods keep running when the agent stops: a restarted agent adopts them.
 */

import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { HostLoopback, Standby } from "@beemesh/contract"
import {
  gatewayAddress,
  netnsLayer,
  type PreflightReport,
  preflightReportJson,
} from "@beemesh/netns"
import { loadOrCreateKey, type MeshKey, type RevocationList, spreadRevocations } from "@beemesh/p2p"
import { PodmanClient } from "@beemesh/podman"
import { Libp2pNode, type ManifestRecord, Registry } from "@beemesh/registry"
import { PrometheusText } from "@beemesh/service"
import { Context, Effect, Layer, Stream } from "effect"
import { agentFamilies } from "./AgentMetrics"
import type { AgentConfig } from "./Config"
import { deployerLayer } from "./Deployer"
import { ServiceDirectory } from "./Directory"
import { check, type Environment, ValidationFailed, withAgentChecks } from "./Doctor"
import { ReplicaProbes } from "./deployer/ReplicaProbes"
import { prepareSameHostDirectory, sameHostDirectoryOf } from "./deployer/SameHostDirectory"
import { WarmPods } from "./deployer/WarmPods"
import { makeApi } from "./http/Api"
import { dashboardRoutes } from "./http/DashboardRoutes"
import { logsRoutes } from "./http/LogsRoutes"
import { meshRoutes } from "./http/MeshRoutes"
import { peersRoutes, peersView } from "./http/PeersRoutes"
import { serveApi } from "./http/Server"
import { servicesRoutes } from "./http/ServicesRoutes"
import { standbyRoutes } from "./http/StandbyRoutes"
import { trafficRoutes } from "./http/TrafficRoutes"
import {
  type AgentMembership,
  agentMembership,
  agentMeshKey,
  meshRevocations,
  type PrivateKey,
} from "./MeshMembership"
import { NetworkPolicies } from "./NetworkPolicies"
import { runPolicySync } from "./PolicySync"
import { registryDirectoryStack } from "./RegistryDirectory"
import { ServiceTraffic } from "./ServiceTraffic"
import { makeSidecarChains } from "./SidecarCertificates"
import { loadOrCreateSecret } from "./Tokens"
import { trafficFamilies } from "./TrafficMetrics"
import { ReplicaNotReady, WorkloadManager } from "./Workloads"

/** The configuration and process environment main.ts read once. */
export class AgentSettings extends Context.Service<
  AgentSettings,
  { readonly config: AgentConfig; readonly environment: Environment }
>()("@beemesh/agent/AgentSettings") {
  static readonly layer = (config: AgentConfig, environment: Environment) =>
    Layer.succeed(AgentSettings, { config, environment })
}

/** The network validation report the agent started with (served on /health). */
export class NetworkReport extends Context.Service<NetworkReport, PreflightReport>()(
  "@beemesh/agent/NetworkReport",
) {}

export interface Secrets {
  readonly operatorToken: string
  readonly operatorTokenFile: string
  /** Signs the pods' tokens. */
  readonly podTokenKey: string
  /** Reads /metrics only: for a scraper, which then needs no operator token. */
  readonly metricsToken: string
  /** The mesh's private network key: the host node and every sidecar run with it. */
  readonly meshKey: MeshKey
  /** The host node's identity (`<dataDir>/identity.key`): it signs the sidecars' certificates. */
  readonly identityKey: PrivateKey
  /** The mesh authority and this agent's certificate. */
  readonly membership: AgentMembership
  /** The newest revocation list (kept in the data directory, spread to every agent). */
  readonly revocations: RevocationList
}

/** The operator token and the pod-token key, kept in the data directory, and the mesh key. */
export class AgentSecrets extends Context.Service<AgentSecrets, Secrets>()(
  "@beemesh/agent/AgentSecrets",
) {}

export interface ApiAddress {
  readonly apiUrl: string
}

/** Where the HTTP API listens once it is up. */
export class AgentApi extends Context.Service<AgentApi, ApiAddress>()("@beemesh/agent/AgentApi") {}

/** The host checks; a failed one stops the start here, before anything is created. */
export const ValidationLayer = Layer.effect(
  NetworkReport,
  Effect.gen(function* () {
    const { config, environment } = yield* AgentSettings
    const report = yield* check(config, environment)
    const full = withAgentChecks(report, config, environment)
    if (!full.ok) return yield* new ValidationFailed({ report: full })
    yield* Effect.logInfo("network validation passed")
    return report
  }),
)

export const SecretsLayer = Layer.effect(
  AgentSecrets,
  Effect.gen(function* () {
    const { config } = yield* AgentSettings
    yield* Effect.promise(() => mkdir(config.dataDir, { recursive: true, mode: 0o700 }))
    const operatorTokenFile = join(config.dataDir, "operator-token")
    const identityKey = yield* loadOrCreateKey(join(config.dataDir, "identity.key"))
    const membership = yield* agentMembership(config, identityKey)
    return {
      operatorToken: yield* loadOrCreateSecret(operatorTokenFile),
      operatorTokenFile,
      podTokenKey: yield* loadOrCreateSecret(join(config.dataDir, "pod-token.key")),
      metricsToken: yield* loadOrCreateSecret(join(config.dataDir, "metrics-token")),
      meshKey: yield* agentMeshKey(config),
      identityKey,
      membership,
      revocations: yield* meshRevocations(config, membership.authority),
    }
  }),
)

/** The host's libp2p node, with its identity kept in the data directory, in the mesh's network. */
export const NodeLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { config } = yield* AgentSettings
    const { meshKey, identityKey, membership, revocations } = yield* AgentSecrets
    return Libp2pNode.layer({
      meshKey,
      membership: {
        authority: membership.authority,
        chain: () => [membership.certificate],
        revoked: revocations.revoked,
      },
      // The same authority decides whose DHT records count (service records, manifests).
      provenance: {
        authority: membership.authority,
        certificate: () => membership.certificate,
        revoked: revocations.revoked,
      },
      listen: config.listen,
      bootstrap: config.bootstrap,
      privateKey: identityKey,
      // gossipsub for the replicated service catalog (see DirectoryLayer), unless it is off.
      catalog: config.catalog !== false,
      // Behind a NAT: a slot at the given relays. Reachable: a relay for the hosts that are not.
      ...(config.relays === undefined ? { relayServer: {} } : { relays: config.relays }),
    })
  }),
)

/** Revocation lists reach every agent over the mesh (see @beemesh/p2p's Revocations). */
export const RevocationsLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const host = yield* Libp2pNode
    const { revocations } = yield* AgentSecrets
    yield* spreadRevocations(host, revocations)
  }),
)

/**
 * The registry and, over it, the directory the pods register their services in. Every agent holds
 * the mesh's whole service catalog (replicated over gossipsub), so a resolve is a local lookup;
 * the DHT is the fallback for services the catalog has nothing live for, and the only source of an
 * agent run with the catalog off (`--no-catalog`). Sidecars resolve per
 * connection with a deadline of a few seconds while a DHT lookup waits out every unreachable peer
 * (a host just lost): fallback answers come from the last lookup while it refreshes.
 */
export const DirectoryLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { config } = yield* AgentSettings
    return registryDirectoryStack({
      catalog: config.catalog !== false,
      directory: config.leaseSeconds === undefined ? {} : { leaseSeconds: config.leaseSeconds },
      registry: { serveStale: true },
    })
  }),
)

/** The Podman client; an embedded `podman system service` when none answers. */
export const PodmanLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { config, environment } = yield* AgentSettings
    return PodmanClient.layer({
      ...(config.podmanSocket === undefined ? {} : { socketPath: config.podmanSocket }),
      ...(environment.containerHost === undefined
        ? {}
        : { containerHost: environment.containerHost }),
      ...(environment.xdgRuntimeDir === undefined
        ? {}
        : { xdgRuntimeDir: environment.xdgRuntimeDir }),
      embedded: "fallback",
      // Under the data directory, so an agent killed with SIGKILL leaves no directory in /tmp:
      // the next start reuses it.
      embeddedOptions: { directory: join(config.dataDir, "podman-service") },
    })
  }),
)

/** Says where the node listens and which Podman the agent uses, once both are up. */
export const StartedLogLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const host = yield* Libp2pNode
    const podman = yield* PodmanClient
    yield* Effect.logInfo(
      `libp2p node ${host.peerId} listening on ${host.multiaddrs().map(String).join(", ")}; Podman at ${podman.socketPath}${podman.embedded ? " (embedded service)" : ""}`,
    )
  }),
)

/** The workload manager: its pods are owned by this node's peer id. */
export const DeployerLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { config, environment } = yield* AgentSettings
    const host = yield* Libp2pNode
    const secrets = yield* AgentSecrets
    const sameHostDirectory = sameHostDirectoryOf(config.dataDir)
    yield* prepareSameHostDirectory(sameHostDirectory)
    return deployerLayer({
      owner: host.peerId.toString(),
      sidecarImage: config.sidecarImage,
      slirp: config.slirp,
      advertiseHost: config.advertiseHost,
      ...(config.relays === undefined ? {} : { relays: config.relays }),
      apiPort: config.apiPort,
      podTokenKey: secrets.podTokenKey,
      meshKey: secrets.meshKey,
      meshAuthority: secrets.membership.authority,
      stateFile: join(config.dataDir, "workloads.json"),
      rootless: environment.uid !== 0,
      sameHostDirectory,
      ...(config.warmPods === undefined ? {} : { warmPods: config.warmPods }),
    })
  }),
)

const toStored = (record: ManifestRecord.ManifestRecord) => ({
  namespace: record.namespace,
  name: record.name,
  publisher: record.publisher,
  issuedAt: record.issuedAt,
  sequence: record.sequence,
  content: record.content,
})

/** The HTTP API over the parts above; requests run with the agent's logger. */
export const ApiLayer = Layer.effect(
  AgentApi,
  Effect.gen(function* () {
    const { config } = yield* AgentSettings
    const report = yield* NetworkReport
    const secrets = yield* AgentSecrets
    const host = yield* Libp2pNode
    const podman = yield* PodmanClient
    const registry = yield* Registry
    const workloads = yield* WorkloadManager
    const probes = yield* ReplicaProbes
    const networkPolicies = yield* NetworkPolicies
    const directory = yield* ServiceDirectory
    const warm = yield* WarmPods
    const services = yield* Effect.context<never>()
    const gateway = gatewayAddress(config.slirp)
    const runExit = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.runPromiseExitWith(services)(effect)
    const operatorToken = secrets.operatorToken
    const traffic = new ServiceTraffic()
    const sidecarChains = makeSidecarChains(secrets.identityKey, secrets.membership)
    const app = makeApi({
      traffic,
      manifests: {
        put: (namespace, name, content) =>
          registry.putManifest(namespace, name, content).pipe(Effect.map(toStored)),
        get: (namespace, name) => registry.getManifest(namespace, name).pipe(Effect.map(toStored)),
      },
      runExit,
      routes: [
        [
          "/v1/pods",
          logsRoutes({
            operatorToken,
            workloads,
            podman,
            runExit,
            toReadable: (stream) => Stream.toReadableStreamWith(stream, services),
          }),
        ],
        ["/v1/peers", peersRoutes({ operatorToken, peers: () => peersView(host) })],
        ["/v1/services", servicesRoutes({ operatorToken, workloads, directory, runExit })],
        ["/v1/traffic", trafficRoutes({ operatorToken, traffic: () => traffic.view() })],
        ["/ui", dashboardRoutes()],
        ["/v1/mesh", meshRoutes({ operatorToken, revocations: secrets.revocations })],
        [
          Standby.PATH,
          standbyRoutes({ answer: (token) => Effect.runPromiseWith(services)(warm.answer(token)) }),
        ],
      ],
      addressForPods: (address) => HostLoopback.forPods(address, gateway),
      workloads,
      probes,
      networkPolicies,
      directory,
      operatorToken: secrets.operatorToken,
      podTokenKey: secrets.podTokenKey,
      metricsToken: secrets.metricsToken,
      addresses: {
        advertiseHost: config.advertiseHost,
        relays: config.relays ?? [],
        // Every sidecar gets the same-host directory (DeployerLayer): it registers its socket too.
        sameHost: true,
      },
      certify: (identity, peerId, renewAfterSeconds) =>
        Effect.gen(function* () {
          const pod = yield* workloads.podClaims?.(identity) ?? Effect.undefined
          if (pod === undefined)
            return yield* new ReplicaNotReady({
              pod: identity.pod,
              reason: "this agent runs no such replica to certify",
            })
          const revocations = secrets.revocations.current()
          const certificates = yield* sidecarChains.chainFor(
            peerId,
            { ...identity, ...pod },
            renewAfterSeconds,
            revocations,
            Date.now(),
          )
          return revocations === undefined ? { certificates } : { certificates, revocations }
        }),
      health: async () => ({
        ok: report.ok,
        peerId: host.peerId.toString(),
        multiaddrs: host.multiaddrs().map(String),
        podman: { socket: podman.socketPath, embedded: podman.embedded },
        validation: preflightReportJson(report),
      }),
      metrics: () =>
        Effect.runPromiseWith(services)(
          workloads.list().pipe(
            Effect.map((statuses) =>
              PrometheusText.renderFamilies([
                ...agentFamilies({
                  workloads: statuses,
                  dhtPeers: host.routingTableSize(),
                  residentMemoryBytes: process.memoryUsage.rss(),
                }),
                ...trafficFamilies(traffic.view()),
              ]),
            ),
          ),
        ),
    })
    const port = yield* serveApi(app, config.apiHost, config.apiPort)
    const apiUrl = `http://${config.apiHost.includes(":") ? `[${config.apiHost}]` : config.apiHost}:${port}`
    yield* Effect.logInfo(`HTTP API on ${apiUrl}; operator token in ${secrets.operatorTokenFile}`)
    return { apiUrl }
  }),
)

/** The NetworkPolicies this agent holds, in networkpolicies.json of its data directory. */
export const NetworkPoliciesLayer = Layer.unwrap(
  Effect.gen(function* () {
    const { config } = yield* AgentSettings
    return NetworkPolicies.layer(join(config.dataDir, "networkpolicies.json"))
  }),
)

/** Publishes this agent's policy changes in the DHT and adopts newer sets of the namespaces it serves. */
export const PolicySyncLayer = Layer.effectDiscard(
  Effect.gen(function* () {
    const store = yield* NetworkPolicies
    const registry = yield* Registry
    const workloads = yield* WorkloadManager
    yield* runPolicySync({
      store,
      records: {
        put: (namespace, name, content) => registry.putManifest(namespace, name, content),
        get: (namespace, name) => registry.getManifest(namespace, name),
      },
      namespaces: () =>
        workloads.list().pipe(Effect.map((statuses) => statuses.map((s) => s.namespace))),
    })
  }),
)

/** The whole agent for one configuration. */
export const agentLayer = (config: AgentConfig, environment: Environment) => {
  const base = Layer.mergeAll(AgentSettings.layer(config, environment), netnsLayer())
  const validated = ValidationLayer.pipe(Layer.provideMerge(base))
  const secrets = SecretsLayer.pipe(Layer.provideMerge(validated))
  const hosts = Layer.mergeAll(
    Layer.mergeAll(DirectoryLayer, RevocationsLayer).pipe(Layer.provideMerge(NodeLayer)),
    PodmanLayer,
  ).pipe(Layer.provideMerge(secrets))
  return Layer.mergeAll(ApiLayer, PolicySyncLayer).pipe(
    Layer.provideMerge(NetworkPoliciesLayer),
    Layer.provideMerge(DeployerLayer),
    Layer.provideMerge(StartedLogLayer),
    Layer.provideMerge(hosts),
  )
}
