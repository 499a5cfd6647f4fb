/**
 * The operator token, pod and Deployment status the HTTP API tests serve (a route test, and the
 * API bundled as its own process by undici.test.ts): one workload, `shop/orders`, one Running pod.
 */
import type { WorkloadStatus } from "../../src/Workloads"

export const OPERATOR = "o".repeat(43)
export const POD = "bm-shop-orders-0"

export const orders: WorkloadStatus = {
  namespace: "shop",
  name: "orders",
  kind: "Deployment",
  replicas: 1,
  services: [{ name: "orders", port: 80 }],
  desired: 1,
  ready: 1,
  updated: 1,
  available: 1,
  conditions: [],
  pods: [
    {
      name: "0",
      pod: POD,
      phase: "Running",
      hostPort: 40000,
      restarts: 0,
      message: undefined,
      events: [],
    },
  ],
}
