import { PrometheusText } from "@beemesh/service"
import { describe, expect, it } from "vitest"
import { ServiceTraffic } from "./ServiceTraffic"
import { trafficFamilies } from "./TrafficMetrics"

describe("trafficFamilies", () => {
  it("exposes connections, bytes each way, errors, refusals and the setup histogram per pair", () => {
    const traffic = new ServiceTraffic()
    traffic.report({ namespace: "shop", workload: "web", pod: "web-0" }, "p0", {
      version: 1,
      entries: [
        {
          direction: "outbound",
          service: "orders",
          callee: "orders",
          connections: 3,
          bytesSent: 300,
          bytesReceived: 4500,
          errors: 1,
          refused: 2,
          setupBuckets: [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
          setupSumSeconds: 0.006,
        },
      ],
    })
    const text = PrometheusText.renderFamilies(trafficFamilies(traffic.view()))
    const l = 'namespace="shop",service="orders",caller="web",callee="orders",reporter="caller"'
    expect(text).toContain(`beemesh_service_connections_total{${l}} 3`)
    expect(text).toContain(`beemesh_service_bytes_total{${l},direction="sent"} 300`)
    expect(text).toContain(`beemesh_service_bytes_total{${l},direction="received"} 4500`)
    expect(text).toContain(`beemesh_service_errors_total{${l}} 1`)
    expect(text).toContain(`beemesh_service_refused_total{${l}} 2`)
    expect(text).toContain(`beemesh_service_connection_setup_seconds_bucket{${l},le="0.001"} 1`)
    expect(text).toContain(`beemesh_service_connection_setup_seconds_bucket{${l},le="0.0025"} 3`)
    expect(text).toContain(`beemesh_service_connection_setup_seconds_bucket{${l},le="+Inf"} 3`)
    expect(text).toContain(`beemesh_service_connection_setup_seconds_count{${l}} 3`)
    expect(text).toContain("# TYPE beemesh_service_connection_setup_seconds histogram")
  })
})
