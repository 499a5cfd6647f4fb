/**
 * The sidecar's ports inside every pod. The agent publishes the proxy port (the pod's only
 * published port) and keeps both out of the apps' hands; the sidecar listens on them by default.
 */

/** libp2p (Noise + Yamux) connections from other sidecars: the pod's one published port. */
export const PROXY_PORT = 8080

/** Liveness, readiness and Prometheus metrics, on the pod's loopback. */
export const HEALTH_PORT = 8081

/** Ports inside a pod that belong to the sidecar: apps and upstreams may not use them. */
export const RESERVED: ReadonlyArray<number> = [PROXY_PORT, HEALTH_PORT]
