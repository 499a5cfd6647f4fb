import { Redacted, Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decode,
  encode,
  type SidecarEnvironment,
  type SidecarEnvironmentInput,
  type SidecarEnvironmentInvalid,
} from "./SidecarEnvironment.js"

const valid = {
  BEEMESH_NAMESPACE: "default",
  BEEMESH_WORKLOAD: "web",
  BEEMESH_POD: "web-7f9c_1.a",
  BEEMESH_SERVICES: "orders=80,admin=9090",
  BEEMESH_UPSTREAMS: "billing=9001",
  BEEMESH_POD_TOKEN: "tok-0123456789abcdef",
  BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/40123",
}

const decoded = (env: Record<string, string | undefined>): SidecarEnvironment => {
  const r = decode(env)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const problemsOf = (env: Record<string, string | undefined>): SidecarEnvironmentInvalid => {
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

describe("SidecarEnvironment.decode", () => {
  it("decodes a complete environment and applies defaults", () => {
    const s = decoded(valid)
    expect(s).toMatchObject({
      namespace: "default",
      workload: "web",
      pod: "web-7f9c_1.a",
      services: [
        { name: "orders", port: 80 },
        { name: "admin", port: 9090 },
      ],
      upstreams: [{ service: "billing", port: 9001 }],
      agentUrl: "http://10.0.2.2:8080",
      advertise: ["/ip4/127.0.0.1/tcp/40123"],
      listenPort: 8080,
      healthHost: "127.0.0.1",
      healthPort: 8081,
      identityKeyFile: undefined,
    })
    expect(Redacted.value(s.podToken)).toBe("tok-0123456789abcdef")
    expect(String(s.podToken)).not.toContain("0123456789")
  })

  it("accepts explicit values for every optional variable", () => {
    expect(
      decoded({
        ...valid,
        BEEMESH_AGENT_URL: "http://10.0.2.2:18080/",
        BEEMESH_LISTEN_PORT: "18080",
        BEEMESH_HEALTH_HOST: "0.0.0.0",
        BEEMESH_HEALTH_PORT: "15021",
        BEEMESH_IDENTITY_KEY_FILE: "/run/secrets/key",
        BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/1, /ip6/::1/tcp/2,/dns4/host-a/tcp/3/p2p/12D3KooWx",
        BEEMESH_SERVICES: " orders = 80 , admin=80",
        BEEMESH_UPSTREAMS: "",
      }),
    ).toMatchObject({
      agentUrl: "http://10.0.2.2:18080",
      listenPort: 18080,
      healthHost: "0.0.0.0",
      healthPort: 15021,
      identityKeyFile: "/run/secrets/key",
      advertise: ["/ip4/127.0.0.1/tcp/1", "/ip6/::1/tcp/2", "/dns4/host-a/tcp/3/p2p/12D3KooWx"],
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
    it("rejects a bad host or port", () => {
      rejects("BEEMESH_ADVERTISE", "/ip4/300.0.0.1/tcp/1", "not an ip4 host")
      rejects("BEEMESH_ADVERTISE", "/ip4/127.0.0.1/tcp/0", '"0" is not a TCP port')
    })
    it("rejects anything after the port but a peer id", () =>
      rejects("BEEMESH_ADVERTISE", "/ip4/127.0.0.1/tcp/1/ws", "not a TCP address"))
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

const input: SidecarEnvironmentInput = {
  namespace: "shop",
  workload: "web",
  pod: "web-1",
  services: [{ name: "web", port: 80 }],
  upstreams: [
    { service: "orders", port: 9001 },
    { service: "cart", port: 9002 },
  ],
  agentUrl: "http://10.0.2.2:18080",
  podToken: Redacted.make("tok-0123456789abcdef"),
  advertise: ["/ip4/127.0.0.1/tcp/41000"],
  listenPort: 8080,
  healthPort: 8081,
}

const encoded = (value: SidecarEnvironmentInput) => {
  const r = encode(value)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("SidecarEnvironment relays (a host behind NAT)", () => {
  const relay = "/ip4/10.77.0.11/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"

  it("are absent unless given, and decode as a list", () => {
    expect(decoded(valid).relays).toBeUndefined()
    expect(decoded({ ...valid, BEEMESH_RELAYS: `${relay}, ${relay}` }).relays).toEqual([
      relay,
      relay,
    ])
  })

  it("must name the relay's peer id and be TCP addresses", () => {
    rejects("BEEMESH_RELAYS", "/ip4/10.77.0.11/tcp/4001", "does not name the relay's peer id")
    rejects("BEEMESH_RELAYS", "/ip4/10.77.0.11/udp/4001/p2p/x", "is not a TCP address")
  })

  it("round trip through the agent's encoding", () => {
    const env = encode({
      namespace: "a",
      workload: "b",
      pod: "b",
      podToken: Redacted.make("x".repeat(16)),
      advertise: ["/ip4/10.78.0.11/tcp/1"],
      relays: [relay],
    })
    if (Result.isFailure(env)) throw new Error(env.failure.message)
    expect(env.success.BEEMESH_RELAYS).toBe(relay)
    expect(decoded(env.success).relays).toEqual([relay])
  })
})

describe("SidecarEnvironment.encode", () => {
  it("writes what the agent gives, in the variables' string forms", () => {
    expect(encoded(input)).toEqual({
      BEEMESH_NAMESPACE: "shop",
      BEEMESH_WORKLOAD: "web",
      BEEMESH_POD: "web-1",
      BEEMESH_SERVICES: "web=80",
      BEEMESH_UPSTREAMS: "orders=9001,cart=9002",
      BEEMESH_AGENT_URL: "http://10.0.2.2:18080",
      BEEMESH_POD_TOKEN: "tok-0123456789abcdef",
      BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/41000",
      BEEMESH_LISTEN_PORT: "8080",
      BEEMESH_HEALTH_PORT: "8081",
    })
  })

  it("round trip: the sidecar decodes exactly what the agent encoded", () => {
    const back = decoded(encoded(input))
    expect({ ...back, podToken: Redacted.value(back.podToken) }).toEqual({
      ...input,
      podToken: "tok-0123456789abcdef",
      healthHost: "127.0.0.1",
      identityKeyFile: undefined,
    })
    const minimal = {
      namespace: "a",
      workload: "b",
      pod: "b",
      podToken: Redacted.make("x".repeat(16)),
      advertise: ["/ip6/::1/tcp/1", "/dns4/host-a/tcp/2"],
      identityKeyFile: "/run/key",
    }
    const again = decoded(encoded(minimal))
    expect(again).toMatchObject({
      ...minimal,
      podToken: expect.anything(),
      services: [],
      upstreams: [],
      listenPort: 8080,
      healthPort: 8081,
    })
    expect(decoded(encode(decoded(valid)).pipe(Result.getOrThrow))).toEqual(decoded(valid))
  })

  it("refuses what the sidecar would refuse, naming the variable and not the token", () => {
    const r = encode({
      ...input,
      namespace: "Shop",
      services: [{ name: "web", port: 0 }],
      podToken: Redacted.make("short"),
    })
    if (Result.isSuccess(r)) throw new Error("expected a refusal")
    expect(r.failure.problems.map((p) => p.variable)).toEqual([
      "BEEMESH_NAMESPACE",
      "BEEMESH_SERVICES",
      "BEEMESH_POD_TOKEN",
    ])
    expect(r.failure.message).toContain("not a valid namespace")
    expect(r.failure.message).toContain("outside 1-65535")
    expect(r.failure.message).not.toContain("short")
  })

  it("refuses ports that clash inside the pod", () => {
    const r = encode({ ...input, upstreams: [{ service: "orders", port: 8081 }] })
    if (Result.isSuccess(r)) throw new Error("expected a refusal")
    expect(r.failure.problems[0]?.reason).toBe(
      "port 8081 is used by both BEEMESH_HEALTH_PORT and BEEMESH_UPSTREAMS (orders)",
    )
  })

  it("refuses more upstreams than there are loopback addresses for their names", () => {
    const upstreams = Array.from({ length: 254 }, (_, i) => ({ service: `u${i}`, port: 10000 + i }))
    const r = encode({ ...input, upstreams })
    if (Result.isSuccess(r)) throw new Error("expected a refusal")
    expect(r.failure.problems[0]).toMatchObject({
      variable: "BEEMESH_UPSTREAMS",
      reason: "254 upstreams are listed",
      expected: "at most 253 upstreams (one loopback address each)",
    })
    expect(Result.isSuccess(encode({ ...input, upstreams: upstreams.slice(0, 253) }))).toBe(true)
  })
})

describe("SidecarEnvironment readiness probes", () => {
  const probe = {
    container: "web",
    action: "httpGet" as const,
    port: 80,
    path: "/ready",
    initialDelaySeconds: 0,
    periodSeconds: 2,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  }

  it("are none unless given", () => {
    expect(decoded(valid).readinessProbes).toBeUndefined()
  })

  it("round trip through the agent's encoding as JSON", () => {
    const env = encoded({ ...input, readinessProbes: [probe] })
    expect(JSON.parse(env.BEEMESH_READINESS_PROBES ?? "")).toEqual([probe])
    expect(decoded(env).readinessProbes).toEqual([probe])
  })

  it("refuse a probe that is not JSON or has a bad port, naming the variable", () => {
    rejects("BEEMESH_READINESS_PROBES", "httpGet:80", "JSON")
    const bad = JSON.stringify([{ ...probe, port: 0 }])
    expect(problemsOf({ ...valid, BEEMESH_READINESS_PROBES: bad }).message).toContain(
      "BEEMESH_READINESS_PROBES",
    )
  })
})

describe("SidecarEnvironment mesh key", () => {
  const hex = "0123456789abcdef".repeat(4)

  it("is absent unless given, and travels redacted", () => {
    expect(decoded(valid).meshKey).toBeUndefined()
    const key = decoded({ ...valid, BEEMESH_MESH_KEY: hex }).meshKey
    expect(key === undefined ? undefined : Redacted.value(key)).toBe(hex)
    expect(String(key)).not.toContain("0123456789abcdef")
  })

  it("must be 64 lowercase hex digits, and a bad one is never printed", () => {
    const short = problemsOf({ ...valid, BEEMESH_MESH_KEY: "abc" })
    expect(short.problems[0]).toMatchObject({ variable: "BEEMESH_MESH_KEY", value: "<redacted>" })
    expect(short.problems[0]?.reason).toContain("64 lowercase hex digits")
    const error = problemsOf({ ...valid, BEEMESH_MESH_KEY: `${hex}zz` })
    expect(error.message).not.toContain(hex)
    expect(error.message).toContain("<redacted>")
  })

  it("round trips through the agent's encoding", () => {
    const env = encode({
      namespace: "a",
      workload: "b",
      pod: "b",
      podToken: Redacted.make("x".repeat(16)),
      advertise: ["/ip4/10.78.0.11/tcp/1"],
      meshKey: Redacted.make(hex),
    })
    if (Result.isFailure(env)) throw new Error(env.failure.message)
    expect(env.success.BEEMESH_MESH_KEY).toBe(hex)
    const back = decoded(env.success).meshKey
    expect(back === undefined ? undefined : Redacted.value(back)).toBe(hex)
  })
})

describe("liveness and startup probes in the environment", () => {
  const exec = {
    container: "web",
    action: "exec" as const,
    command: ["cat", "/tmp/alive"],
    initialDelaySeconds: 0,
    periodSeconds: 2,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  }

  it("round trip through the agent's encoding, exec probes included", () => {
    const env = encoded({ ...input, livenessProbes: [exec], startupProbes: [exec] })
    expect(decoded(env).livenessProbes).toEqual([exec])
    expect(decoded(env).startupProbes).toEqual([exec])
  })

  it("refuse an exec probe without a command, naming the variable", () => {
    const bad = JSON.stringify([{ ...exec, command: [] }])
    expect(problemsOf({ ...valid, BEEMESH_LIVENESS_PROBES: bad }).message).toContain(
      "BEEMESH_LIVENESS_PROBES",
    )
  })
})

describe("SidecarEnvironment same-host directory", () => {
  it("is absent unless given, an absolute path, and round trips", () => {
    expect(decoded(valid).sameHostDirectory).toBeUndefined()
    rejects("BEEMESH_SAMEHOST_DIR", "run/beemesh", "absolute path")
    const env = encode({
      namespace: "a",
      workload: "b",
      pod: "b",
      podToken: Redacted.make("x".repeat(16)),
      advertise: ["/ip4/10.78.0.11/tcp/1"],
      sameHostDirectory: "/run/beemesh/samehost",
    })
    if (Result.isFailure(env)) throw new Error(env.failure.message)
    expect(env.success.BEEMESH_SAMEHOST_DIR).toBe("/run/beemesh/samehost")
    expect(decoded(env.success).sameHostDirectory).toBe("/run/beemesh/samehost")
  })
})

describe("SidecarEnvironment mesh authority", () => {
  const authority = "12D3KooWA5WvmLtbRyfaPHzYBgMuD8kVFr7Ek5khaKPBB6A4jRE2"

  it("is absent unless given, and round trips through the agent's encoding", () => {
    expect(decoded(valid).meshAuthority).toBeUndefined()
    const env = encode({
      namespace: "a",
      workload: "b",
      pod: "b",
      podToken: Redacted.make("x".repeat(16)),
      advertise: ["/ip4/10.78.0.11/tcp/1"],
      meshAuthority: authority,
    })
    if (Result.isFailure(env)) throw new Error(env.failure.message)
    expect(env.success.BEEMESH_MESH_AUTHORITY).toBe(authority)
    expect(decoded(env.success).meshAuthority).toBe(authority)
  })

  it("must be a peer id", () => {
    const bad = problemsOf({ ...valid, BEEMESH_MESH_AUTHORITY: "not-a-peer" })
    expect(bad.problems[0]).toMatchObject({ variable: "BEEMESH_MESH_AUTHORITY" })
    expect(bad.message).toContain("is not a libp2p peer id")
  })
})
