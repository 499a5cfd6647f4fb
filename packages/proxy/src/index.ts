/**
 * @beemesh/proxy — TCP ⇄ libp2p stream bridging for Beemesh sidecars.
 *
 * - {@link Inbound}: serve `/beemesh/proxy/1.0.0` streams by piping them to exposed local targets.
 * - {@link Outbound}: local upstream listeners whose connections ride libp2p streams to providers.
 * - {@link Resolver}: where providers come from (the registry in the sidecar, a table in tests).
 * - {@link ProxyMetrics}: counters and gauges as a plain snapshot, per service in {@link TrafficTable}.
 */
export * from "./constants"
export * from "./Errors"
export * from "./Inbound"
export * from "./Libp2pNode"
export * from "./Metrics"
export * from "./Outbound"
export * as Protocol from "./Protocol"
export { PROXY_PROTOCOL } from "./Protocol"
export * from "./ProviderSelector"
export * from "./Resolver"
export * from "./Traffic"
