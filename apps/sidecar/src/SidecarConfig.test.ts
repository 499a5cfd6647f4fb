import { Effect, Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSettings, type SidecarConfigInvalid, type SidecarSettings } from "./SidecarConfig"

const valid = {
  BEEMESH_NAMESPACE: "default",
  BEEMESH_WORKLOAD: "web",
  BEEMESH_POD: "web-7f9c_1.a",
  BEEMESH_SERVICES: "orders=80,admin=9090",
  BEEMESH_UPSTREAMS: "billing=9001",
  BEEMESH_POD_TOKEN: "tok-0123456789abcdef",
  BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/40123",
}

const decode = (
  env: Record<string, string | undefined>,
): Result.Result<SidecarSettings, SidecarConfigInvalid> =>
  Effect.runSync(Effect.result(decodeSettings(env)))

const problemsOf = (env: Record<string, string | undefined>) => {
  const r = decode(env)
  if (Result.isSuccess(r)) throw new Error("expected a configuration error")
  return r.failure
}

/** Asserts exactly one problem, on `variable`, and that the message names variable, value and form. */
const rejects = (variable: string, value: string | undefined, reasonPart: string) => {
  const error = problemsOf({ ...valid, [variable]: value })
  expect(error.problems.map((p) => p.variable)).toEqual([variable])
  expect(error.message).toContain(variable)
  if (value !== undefined && variable !== "BEEMESH_POD_TOKEN")
    expect(error.message).toContain(JSON.stringify(value))
  expect(error.problems[0]?.reason).toContain(reasonPart)
  expect(error.message).toContain("expected ")
}

describe("decodeSettings", () => {
  it("decodes a complete environment and applies defaults", () => {
    const r = decode(valid)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    const s = r.success
    expect(s).toMatchObject({
      namespace: "default",
      workload: "web",
      pod: "web-7f9c_1.a",
      services: [
        { name: "orders", port: 80 },
        { name: "admin", port: 9090 },
      ],
      upstreams: [{ service: "billing", port: 9001 }],
      agentUrl: "http://host.containers.internal:8080",
      advertise: ["/ip4/127.0.0.1/tcp/40123"],
      listenPort: 8080,
      healthHost: "127.0.0.1",
      healthPort: 8081,
      identityKeyFile: undefined,
      hostLoopback: { _tag: "Auto" },
    })
    expect(Redacted.value(s.podToken)).toBe("tok-0123456789abcdef")
    expect(String(s.podToken)).not.toContain("0123456789")
  })

  it("accepts explicit values for every optional variable", () => {
    const r = decode({
      ...valid,
      BEEMESH_AGENT_URL: "http://10.0.2.2:18080/",
      BEEMESH_LISTEN_PORT: "18080",
      BEEMESH_HEALTH_HOST: "0.0.0.0",
      BEEMESH_HEALTH_PORT: "15021",
      BEEMESH_IDENTITY_KEY_FILE: "/run/secrets/key",
      BEEMESH_HOST_LOOPBACK: "10.0.2.2",
      BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/1, /ip6/::1/tcp/2,/dns4/host-a/tcp/3",
      BEEMESH_SERVICES: " orders = 80 , admin=80",
      BEEMESH_UPSTREAMS: "",
    })
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success).toMatchObject({
      agentUrl: "http://10.0.2.2:18080",
      listenPort: 18080,
      healthHost: "0.0.0.0",
      healthPort: 15021,
      identityKeyFile: "/run/secrets/key",
      hostLoopback: { _tag: "Address", address: "10.0.2.2" },
      advertise: ["/ip4/127.0.0.1/tcp/1", "/ip6/::1/tcp/2", "/dns4/host-a/tcp/3"],
      services: [
        { name: "orders", port: 80 },
        { name: "admin", port: 80 },
      ],
      upstreams: [],
    })
  })

  it("reports every missing required variable at once", () => {
    const error = problemsOf({})
    expect(error.problems.map((p) => p.variable).sort()).toEqual(
      [
        "BEEMESH_ADVERTISE",
        "BEEMESH_NAMESPACE",
        "BEEMESH_POD",
        "BEEMESH_POD_TOKEN",
        "BEEMESH_WORKLOAD",
      ].sort(),
    )
    expect(error.message).toContain("BEEMESH_NAMESPACE is not set")
  })

  describe("names", () => {
    it("rejects a namespace that is not a DNS label", () =>
      rejects("BEEMESH_NAMESPACE", "Default", "not a valid namespace"))
    it("rejects an over-long namespace", () =>
      rejects("BEEMESH_NAMESPACE", "a".repeat(64), "not a valid namespace"))
    it("rejects a workload with a leading dash", () =>
      rejects("BEEMESH_WORKLOAD", "-web", "not a valid workload"))
    it("rejects a pod name with a slash", () =>
      rejects("BEEMESH_POD", "a/b", "not a valid pod name"))
    it("rejects an empty pod name", () => rejects("BEEMESH_POD", "", "not a valid pod name"))
  })

  describe("service and upstream maps", () => {
    it("rejects an entry without '='", () => rejects("BEEMESH_SERVICES", "orders", "has no '='"))
    it("rejects a non-numeric port", () =>
      rejects("BEEMESH_SERVICES", "orders=http", "not a port number"))
    it("rejects port 0", () => rejects("BEEMESH_SERVICES", "orders=0", "outside 1-65535"))
    it("rejects a port above 65535", () =>
      rejects("BEEMESH_UPSTREAMS", "orders=70000", "outside 1-65535"))
    it("rejects a bad service name", () =>
      rejects("BEEMESH_SERVICES", "Orders=80", "not a valid service name"))
    it("rejects a duplicate service", () =>
      rejects("BEEMESH_UPSTREAMS", "a=9001,a=9002", 'service "a" appears twice'))
    it("rejects an empty entry", () => rejects("BEEMESH_SERVICES", "orders=80,", "has no '='"))
  })

  describe("agent URL", () => {
    it("rejects a non-URL", () => rejects("BEEMESH_AGENT_URL", "host:8080/x y", "not a URL"))
    it("rejects a non-http scheme", () =>
      rejects("BEEMESH_AGENT_URL", "ftp://h:21", "not http or https"))
    it("rejects a query string", () =>
      rejects("BEEMESH_AGENT_URL", "http://h:1/?a=1", "query or fragment"))
  })

  describe("pod token", () => {
    it("rejects a short token without printing it", () => {
      rejects("BEEMESH_POD_TOKEN", "short-secret", "at least 16")
      expect(problemsOf({ ...valid, BEEMESH_POD_TOKEN: "short-secret" }).message).not.toContain(
        "short-secret",
      )
    })
    it("rejects a token with spaces", () =>
      rejects("BEEMESH_POD_TOKEN", "abcdefgh ijklmnopq", "without spaces"))
  })

  describe("advertised addresses", () => {
    it("rejects garbage", () => rejects("BEEMESH_ADVERTISE", "127.0.0.1:40123", "not a multiaddr"))
    it("rejects a non-TCP multiaddr", () =>
      rejects("BEEMESH_ADVERTISE", "/ip4/127.0.0.1/udp/4001", "not a TCP address"))
    it("rejects an empty list", () => rejects("BEEMESH_ADVERTISE", " , ", "no address"))
  })

  describe("ports and hosts", () => {
    it("rejects a bad listen port", () =>
      rejects("BEEMESH_LISTEN_PORT", "80a", "not a port number"))
    it("rejects a bad health port", () =>
      rejects("BEEMESH_HEALTH_PORT", "65536", "outside 1-65535"))
    it("rejects a health host that is not IPv4", () =>
      rejects("BEEMESH_HEALTH_HOST", "localhost", "not an IPv4"))
    it("rejects an out-of-range health host", () =>
      rejects("BEEMESH_HEALTH_HOST", "256.0.0.1", "not an IPv4"))
    it("accepts none as the host loopback", () => {
      const r = decode({ ...valid, BEEMESH_HOST_LOOPBACK: "none" })
      expect(Result.isSuccess(r) && r.success.hostLoopback).toEqual({ _tag: "None" })
    })
    it("rejects a host loopback that is not auto, none or IPv4", () =>
      rejects(
        "BEEMESH_HOST_LOOPBACK",
        "host.containers.internal",
        "neither auto, none nor an IPv4",
      ))
    it("rejects a relative key file path", () =>
      rejects("BEEMESH_IDENTITY_KEY_FILE", "key.pb", "absolute path"))
  })

  describe("port clashes", () => {
    it("rejects an upstream on the listen port", () =>
      rejects("BEEMESH_UPSTREAMS", "billing=8080", "used by both BEEMESH_LISTEN_PORT"))
    it("rejects an upstream on an app port", () =>
      rejects(
        "BEEMESH_UPSTREAMS",
        "billing=9090",
        "used by both BEEMESH_SERVICES (admin) and BEEMESH_UPSTREAMS (billing)",
      ))
    it("rejects the health port on the listen port", () =>
      rejects(
        "BEEMESH_HEALTH_PORT",
        "8080",
        "used by both BEEMESH_LISTEN_PORT and BEEMESH_HEALTH_PORT",
      ))
  })
})
