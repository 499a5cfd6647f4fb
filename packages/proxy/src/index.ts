/**
 * @beemesh/proxy — TCP ⇄ libp2p stream bridging for Beemesh sidecars.
 *
 * - {@link Inbound}: serve `/beemesh/proxy/1.0.0` streams by piping them to exposed local targets.
 * - {@link Outbound}: local upstream listeners whose connections ride libp2p streams to providers.
 * - {@link Resolver}: where providers come from (the registry in the sidecar, a table in tests).
 * - {@link ProxyMetrics}: counters and gauges as a plain snapshot, per service in {@link TrafficTable}.
 */
export * from "./constants.js"
export * from "./Errors.js"
export * from "./Inbound.js"
export * from "./Libp2pNode.js"
export * from "./Metrics.js"
export * from "./Outbound.js"
export * as Protocol from "./Protocol.js"
export { PROXY_PROTOCOL } from "./Protocol.js"
export * from "./ProviderSelector.js"
export * from "./Resolver.js"
export * from "./Traffic.js"
