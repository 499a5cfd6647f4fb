import type { ReadinessProbe } from "@beemesh/contract"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { parseManifests } from "./Manifest"

const pod = (probe: string, ports = "[{ containerPort: 80, name: http }]") => `
apiVersion: v1
kind: Pod
metadata: { name: web }
spec:
  containers:
    - name: app
      image: localhost/web:1
      ports: ${ports}
      readinessProbe: ${probe}
`

const probeOf = (text: string) => {
  const [workload] = Effect.runSync(parseManifests(text))
  return workload?.containers[0]?.readinessProbe as ReadinessProbe.NetworkProbe | undefined
}

const refusal = (text: string): string => {
  const exit = Effect.runSyncExit(parseManifests(text))
  if (Exit.isSuccess(exit)) throw new Error(`expected a refusal, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason?._tag !== "Fail") throw new Error("expected a typed failure")
  return reason.error.message
}

describe("readinessProbe", () => {
  it("httpGet with Kubernetes' defaults for every timing field", () => {
    expect(probeOf(pod("{ httpGet: { path: /ready, port: 80 } }"))).toEqual({
      container: "app",
      action: "httpGet",
      port: 80,
      path: "/ready",
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    })
  })

  it("tcpSocket on a named port, with the timing fields given", () => {
    expect(
      probeOf(
        pod(
          "{ tcpSocket: { port: http }, initialDelaySeconds: 2, periodSeconds: 3, timeoutSeconds: 4, successThreshold: 2, failureThreshold: 5 }",
        ),
      ),
    ).toEqual({
      container: "app",
      action: "tcpSocket",
      port: 80,
      initialDelaySeconds: 2,
      periodSeconds: 3,
      timeoutSeconds: 4,
      successThreshold: 2,
      failureThreshold: 5,
    })
  })

  it("an httpGet without a path probes /", () => {
    expect(probeOf(pod("{ httpGet: { port: 80, scheme: HTTP } }"))?.path).toBe("/")
  })

  it("a container without one has none", () => {
    const [workload] = Effect.runSync(
      parseManifests(pod("null").replace("      readinessProbe: null\n", "")),
    )
    expect(workload?.containers[0]).not.toHaveProperty("readinessProbe")
  })

  it.each([
    ["{ exec: { command: [] } }", /readinessProbe\.exec\.command: needs the program to run/],
    [
      "{ exec: { command: [cat, /ready] }, tcpSocket: { port: 80 } }",
      /readinessProbe needs exactly one of httpGet or tcpSocket or exec/,
    ],
    [
      "{ grpc: { port: 80 } }",
      /readinessProbe\.grpc: not supported by beemesh yet: grpc probes are not run/,
    ],
    [
      "{ httpGet: { port: 80, host: 10.0.0.1 } }",
      /readinessProbe\.httpGet\.host: is refused: probes reach the app on the pod's 127\.0\.0\.1/,
    ],
    ["{ httpGet: { port: 80, scheme: HTTPS } }", /readinessProbe\.httpGet\.scheme: must be HTTP/],
    [
      "{ httpGet: { port: 80, httpHeaders: [] } }",
      /readinessProbe\.httpGet\.httpHeaders: not supported by beemesh yet/,
    ],
    ["{ periodSeconds: 5 }", /readinessProbe needs exactly one of httpGet or tcpSocket/],
    [
      "{ httpGet: { port: 80 }, tcpSocket: { port: 80 } }",
      /readinessProbe needs exactly one of httpGet or tcpSocket/,
    ],
    [
      "{ tcpSocket: { port: admin } }",
      /readinessProbe port "admin" names no port of the container \(its ports are http\)/,
    ],
    [
      "{ tcpSocket: { port: 0 } }",
      /readinessProbe\.tcpSocket\.port: must be a port between 1 and 65535/,
    ],
    [
      '{ tcpSocket: { port: "70000" } }',
      /readinessProbe port 70000 must be a port between 1 and 65535/,
    ],
    ["{ tcpSocket: { port: 8081 } }", /readinessProbe port 8081 is the sidecar's inside the pod/],
    [
      "{ httpGet: { port: 80, path: ready } }",
      /readinessProbe\.httpGet\.path "ready" must start with \//,
    ],
    [
      "{ tcpSocket: { port: 80 }, failureThreshold: 0 }",
      /readinessProbe\.failureThreshold: must be at least 1/,
    ],
    [
      "{ tcpSocket: { port: 80 }, initialDelaySeconds: -1 }",
      /readinessProbe\.initialDelaySeconds: must not be negative/,
    ],
  ])("refuses %s by name", (probe, reason) => {
    expect(refusal(pod(probe))).toMatch(reason)
  })

  it("exec runs the command as given, with the defaults", () => {
    expect(probeOf(pod("{ exec: { command: [test, -f, /tmp/ready] } }"))).toEqual({
      container: "app",
      action: "exec",
      command: ["test", "-f", "/tmp/ready"],
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      successThreshold: 1,
      failureThreshold: 3,
    })
  })
})

describe("livenessProbe and startupProbe", () => {
  const containerOf = (text: string) => Effect.runSync(parseManifests(text))[0]?.containers[0]

  it.each(["livenessProbe", "startupProbe"])(
    "%s: httpGet on a named port and exec, with Kubernetes' defaults",
    (field) => {
      const http = pod("{ httpGet: { port: http, path: /healthz } }").replace(
        "readinessProbe",
        field,
      )
      expect(containerOf(http)).toMatchObject({
        [field]: {
          container: "app",
          action: "httpGet",
          port: 80,
          path: "/healthz",
          periodSeconds: 10,
          failureThreshold: 3,
        },
      })
      const exec = pod("{ exec: { command: [cat, /alive] }, failureThreshold: 30 }").replace(
        "readinessProbe",
        field,
      )
      expect(containerOf(exec)).toMatchObject({
        [field]: {
          action: "exec",
          command: ["cat", "/alive"],
          failureThreshold: 30,
          successThreshold: 1,
        },
      })
      expect(containerOf(exec)).not.toHaveProperty("readinessProbe")
    },
  )

  it.each([
    [
      "livenessProbe",
      "{ tcpSocket: { port: 80 }, successThreshold: 2 }",
      /livenessProbe\.successThreshold must be 1/,
    ],
    [
      "startupProbe",
      "{ exec: { command: [/bin/true] }, successThreshold: 3 }",
      /startupProbe\.successThreshold must be 1/,
    ],
    [
      "livenessProbe",
      "{ grpc: { port: 80 } }",
      /livenessProbe\.grpc: not supported by beemesh yet/,
    ],
    [
      "startupProbe",
      "{ tcpSocket: { port: 8081 } }",
      /startupProbe port 8081 is the sidecar's inside the pod/,
    ],
    [
      "livenessProbe",
      "{ periodSeconds: 5 }",
      /livenessProbe needs exactly one of httpGet or tcpSocket or exec/,
    ],
    [
      "startupProbe",
      "{ httpGet: { port: 80, host: 10.0.0.1 } }",
      /startupProbe\.httpGet\.host: is refused/,
    ],
  ])("%s %s is refused by name", (field, probe, reason) => {
    expect(refusal(pod(probe).replace("readinessProbe", field))).toMatch(reason)
  })
})
