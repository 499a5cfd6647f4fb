/**
 * @beemesh/proxy — TCP ⇄ libp2p stream bridging for Beemesh sidecars.
 *
 * - {@link Inbound}: serve `/beemesh/proxy` streams by piping their connections to exposed local targets.
 * - {@link Outbound}: local upstream listeners whose connections ride libp2p streams to providers.
 * - {@link Resolver}: where providers come from (the registry in the sidecar, a table in tests).
 * - {@link ProxyMetrics}: counters and gauges as a plain snapshot, per service in {@link TrafficTable}.
 */
export {
  defaults,
  proxyConnectionManagerOptions,
  proxyNodeFlags,
  proxyYamuxOptions,
} from "./constants.js"
export {
  AllProvidersFailed,
  CallDenied,
  ListenFailed,
  NoProviders,
  ProtocolRegistrationFailed,
  ProviderFailed,
  ProxyTimeout,
  ResolveFailed,
  TargetConnectFailed,
} from "./Errors.js"
export {
  type Door,
  type DoorDenial,
  type ExposedTarget,
  Inbound,
  type InboundOptions,
} from "./Inbound.js"
export { Libp2pNode } from "./Libp2pNode.js"
export {
  type Direction,
  type DirectionSnapshot,
  MetricsRegistry,
  ProxyMetrics,
  type ProxyMetricsSnapshot,
} from "./Metrics.js"
export {
  Outbound,
  type OutboundOptions,
  type SameHostOptions,
  type UpstreamListener,
  type UpstreamOptions,
} from "./Outbound.js"
export * as Protocol from "./Protocol.js"
export { PROXY_PROTOCOL, PROXY_PROTOCOL_REUSABLE } from "./Protocol.js"
export { type Provider, Resolver } from "./Resolver.js"
export * as SameHost from "./SameHost.js"
export {
  MAX_TRAFFIC_SERIES,
  SETUP_BUCKETS_SECONDS,
  type ServiceTrafficSnapshot,
  type SetupHistogram,
  TrafficTable,
} from "./Traffic.js"
