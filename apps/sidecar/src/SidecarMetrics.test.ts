import { describe, expect, it } from "vitest"
import { countByTransport, renderMetrics } from "./SidecarMetrics"

const direction = (n: number) => ({
  bytesIn: n,
  bytesOut: n + 1,
  streamsOpened: n + 2,
  streamsOpen: n + 3,
  refused: n + 4,
  errors: n + 5,
})

describe("renderMetrics", () => {
  const text = renderMetrics({
    proxy: {
      inbound: direction(10),
      outbound: direction(20),
      bufferedBytes: 7,
      services: [],
      denied: { inbound: {}, outbound: {} },
    },
    registration: {
      registered: true,
      registrations: 3,
      renewals: 2,
      failures: 1,
      lastError: undefined,
    },
    connections: 2,
  })
  const lines = text.split("\n")

  it("renders every proxy counter per direction", () => {
    expect(lines).toContain(
      'beemesh_sidecar_proxy_bytes_total{direction="inbound",flow="received"} 10',
    )
    expect(lines).toContain(
      'beemesh_sidecar_proxy_bytes_total{direction="outbound",flow="sent"} 21',
    )
    expect(lines).toContain('beemesh_sidecar_proxy_streams_total{direction="outbound"} 22')
    expect(lines).toContain('beemesh_sidecar_proxy_streams_open{direction="inbound"} 13')
    expect(lines).toContain('beemesh_sidecar_proxy_refused_total{direction="inbound"} 14')
    expect(lines).toContain('beemesh_sidecar_proxy_errors_total{direction="outbound"} 25')
    expect(lines).toContain("beemesh_sidecar_proxy_buffered_bytes 7")
  })

  it("renders registration state and connections", () => {
    expect(lines).toContain("beemesh_sidecar_registered 1")
    expect(lines).toContain("beemesh_sidecar_registrations_total 3")
    expect(lines).toContain("beemesh_sidecar_registration_failures_total 1")
    expect(lines).toContain("beemesh_sidecar_libp2p_connections 2")
  })

  it("is well-formed exposition text: HELP and TYPE before each family's samples", () => {
    expect(text.endsWith("\n")).toBe(true)
    const seen = new Set<string>()
    for (const line of lines.filter((l) => l !== "")) {
      const m = /^# TYPE (\S+) (counter|gauge)$/.exec(line)
      if (m) seen.add(m[1]!)
      else if (!line.startsWith("# HELP ")) {
        expect(line).toMatch(/^[a-z_][a-z0-9_]*(\{[^}]*\})? \d+$/)
        expect(seen.has(line.split(/[{ ]/)[0]!)).toBe(true)
      }
    }
    expect(seen.size).toBe(10)
  })

  it("renders hole punch outcomes when the node reports them", () => {
    const withPunch = renderMetrics({
      proxy: {
        inbound: direction(0),
        outbound: direction(0),
        bufferedBytes: 0,
        services: [],
        denied: { inbound: {}, outbound: {} },
      },
      registration: {
        registered: false,
        registrations: 0,
        renewals: 0,
        failures: 0,
        lastError: undefined,
      },
      connections: 1,
      holePunch: { attempted: 3, succeeded: 1, failed: 2 },
    }).split("\n")
    expect(withPunch).toContain('beemesh_sidecar_hole_punch_total{outcome="attempted"} 3')
    expect(withPunch).toContain('beemesh_sidecar_hole_punch_total{outcome="succeeded"} 1')
    expect(withPunch).toContain('beemesh_sidecar_hole_punch_total{outcome="failed"} 2')
    expect(lines.some((l) => l.startsWith("beemesh_sidecar_hole_punch_total"))).toBe(false)
  })

  it("renders door denials per direction and reason when the sidecar has a door", () => {
    const withDoor = renderMetrics({
      proxy: {
        inbound: direction(0),
        outbound: direction(0),
        bufferedBytes: 0,
        services: [],
        denied: { inbound: { policy: 2 }, outbound: { policy: 1 } },
      },
      registration: {
        registered: true,
        registrations: 1,
        renewals: 0,
        failures: 0,
        lastError: undefined,
      },
      connections: 1,
      denialReasons: ["not-a-member", "policy"],
    }).split("\n")
    expect(withDoor).toContain(
      'beemesh_sidecar_proxy_denied_total{direction="inbound",reason="not-a-member"} 0',
    )
    expect(withDoor).toContain(
      'beemesh_sidecar_proxy_denied_total{direction="inbound",reason="policy"} 2',
    )
    expect(withDoor).toContain(
      'beemesh_sidecar_proxy_denied_total{direction="outbound",reason="policy"} 1',
    )
    expect(lines.some((l) => l.startsWith("beemesh_sidecar_proxy_denied_total"))).toBe(false)
  })
})

describe("connections by transport", () => {
  it("tells the same-host socket, relayed and published-port connections apart", () => {
    expect(
      countByTransport([
        "/unix/%2Frun%2Fbeemesh%2Fsamehost%2Fabc.12D3KooW/p2p/12D3KooW",
        "/ip4/10.0.2.2/tcp/40123/p2p/12D3KooW",
        "/ip4/10.0.2.2/tcp/4001/p2p/12D3KooR/p2p-circuit/p2p/12D3KooW",
      ]),
    ).toEqual({ tcp: 1, unix: 1, relay: 1 })
    const text = renderMetrics({
      proxy: {
        inbound: direction(0),
        outbound: direction(0),
        denied: { inbound: {}, outbound: {} },
        bufferedBytes: 0,
        services: [],
      },
      registration: {
        registered: true,
        registrations: 1,
        renewals: 0,
        failures: 0,
        lastError: undefined,
      },
      connections: 3,
      connectionsByTransport: { tcp: 2, unix: 1, relay: 0 },
    })
    expect(text).toContain('beemesh_sidecar_libp2p_connections_by_transport{transport="unix"} 1')
    expect(text).toContain('beemesh_sidecar_libp2p_connections_by_transport{transport="tcp"} 2')
  })
})
