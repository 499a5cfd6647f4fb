import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { type ConfigSources, parseCommand } from "./Config"

const sources = (
  argv: ReadonlyArray<string>,
  extra: Partial<ConfigSources> = {},
): ConfigSources => ({
  argv,
  env: {},
  readFile: async (path) => {
    throw new Error(`ENOENT: no such file ${path}`)
  },
  isRoot: true,
  home: "/root",
  ...extra,
})

const run = (argv: ReadonlyArray<string>, extra: Partial<ConfigSources> = {}) =>
  Effect.runPromise(parseCommand(sources(argv, extra)))

const refusal = async (argv: ReadonlyArray<string>, extra: Partial<ConfigSources> = {}) => {
  const exit = await Effect.runPromiseExit(parseCommand(sources(argv, extra)))
  if (Exit.isSuccess(exit)) throw new Error(`expected a refusal, got ${JSON.stringify(exit.value)}`)
  return String(exit.cause)
}

describe("parseCommand", () => {
  it("gives the default slirp4netns options and addresses for run", async () => {
    const command = await run(["run"])
    expect(command).toEqual({
      _tag: "Run",
      config: {
        apiHost: "127.0.0.1",
        apiPort: 8080,
        listen: ["/ip4/0.0.0.0/tcp/4001"],
        bootstrap: [],
        dataDir: "/var/lib/beemesh",
        slirp: { enableIpv6: true, allowHostLoopback: true, cidr: "10.0.2.0/24", mtu: 1500 },
        podmanSocket: undefined,
        sidecarImage: "localhost/beemesh/sidecar:0.1.0",
        advertiseHost: "127.0.0.1",
        logLevel: "info",
        logFormat: "text",
      },
    })
  })

  it("takes flags over the environment over the file", async () => {
    const file =
      "api: 127.0.0.1:9000\nlogLevel: warn\nslirp: mtu=9000\nbootstrap: [/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWabc]\n"
    const command = await run(
      ["doctor", "--config", "/etc/beemesh.yaml", "--log-level", "debug", "--json"],
      {
        env: { BEEMESH_API: "[::1]:8181", BEEMESH_LOG_LEVEL: "error" },
        readFile: async (path) => {
          expect(path).toBe("/etc/beemesh.yaml")
          return file
        },
      },
    )
    expect(command._tag).toBe("Doctor")
    if (command._tag !== "Doctor") return
    expect(command.json).toBe(true)
    expect(command.config).toMatchObject({
      apiHost: "::1",
      apiPort: 8181,
      logLevel: "debug",
      bootstrap: ["/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWabc"],
      slirp: { mtu: 9000, cidr: "10.0.2.0/24" },
    })
  })

  it("takes the relays of a host behind NAT from flags, the environment or the file", async () => {
    const relay = "/ip4/10.77.0.11/tcp/4001/p2p/12D3KooWabc"
    const fromFlag = await run(["run", "--relay", relay, "--relay", `${relay}d`])
    expect(fromFlag._tag === "Run" && fromFlag.config.relays).toEqual([relay, `${relay}d`])
    const fromEnv = await run(["run"], { env: { BEEMESH_RELAYS: `${relay},${relay}d` } })
    expect(fromEnv._tag === "Run" && fromEnv.config.relays).toEqual([relay, `${relay}d`])
    const fromFile = await run(["run", "--config", "/c.yaml"], {
      readFile: async () => `relays: [${relay}]\n`,
    })
    expect(fromFile._tag === "Run" && fromFile.config.relays).toEqual([relay])
    const reachable = await run(["run"])
    expect(reachable._tag === "Run" && reachable.config.relays).toBeUndefined()
  })

  it("gives pods the port handler the operator names, and Podman's own otherwise", async () => {
    const chosen = await run(["run"], { env: { BEEMESH_SLIRP: "port_handler=slirp4netns" } })
    expect(chosen._tag === "Run" && chosen.config.slirp).toMatchObject({
      mtu: 1500,
      portHandler: "slirp4netns",
    })
    const partial = await run(["run", "--slirp", "mtu=9000"])
    expect(partial._tag === "Run" && partial.config.slirp.portHandler).toBeUndefined()
  })

  it("takes json as the log format from a flag, and refuses an unknown one", async () => {
    const command = await run(["run", "--log-format", "json"])
    expect(command._tag === "Run" && command.config.logFormat).toBe("json")
    expect(await refusal(["run"], { env: { BEEMESH_LOG_FORMAT: "xml" } })).toContain(
      'configuration logFormat: "xml" is not text or json',
    )
  })

  it("uses the user's data directory when not root", async () => {
    const command = await run(["run"], { isRoot: false, home: "/home/ann" })
    expect(command._tag === "Run" && command.config.dataDir).toBe("/home/ann/.local/share/beemesh")
  })

  it("answers --help and --version", async () => {
    expect(await run(["--help"])).toEqual({ _tag: "Help" })
    expect(await run(["run", "-h"])).toEqual({ _tag: "Help" })
    expect(await run(["--version"])).toEqual({ _tag: "Version" })
  })

  it.each([
    [[], /no command given; use run or doctor/],
    [["deploy"], /unknown command "deploy"/],
    [["run", "--nope"], /Unknown option '--nope'.*see --help/],
    [["run", "--api", "localhost"], /"localhost" is not HOST:PORT/],
    [["run", "--api", "127.0.0.1:99999"], /is not HOST:PORT/],
    [["run", "--listen", "0.0.0.0:4001"], /is not a TCP multiaddr/],
    [["run", "--bootstrap", "/ip4/127.0.0.1/tcp/4001"], /with the peer id/],
    [
      ["run", "--relay", "/ip4/10.77.0.11/tcp/4001"],
      /relays: .*reachable agent's TCP multiaddr with its peer id/,
    ],
    [["run", "--slirp", "mtu=70000"], /slirp: slirp4netns option mtu=70000 is invalid/],
    [["run", "--slirp", "colour=blue"], /slirp: .*colour/],
    [["run", "--log-level", "loud"], /"loud" is not one of debug, info, warn, error/],
    [["run", "--data-dir", "relative/dir"], /must be an absolute path/],
    [["run", "--advertise-host", "myhost.local"], /must be an IPv4 address of this host/],
    [["run", "--config", "/missing.yaml"], /\/missing.yaml: cannot read/],
  ])("refuses %j with a reason", async (argv, pattern) => {
    expect(await refusal(argv)).toMatch(pattern)
  })

  it("refuses unknown keys and bad YAML in the config file", async () => {
    const withFile = (text: string) => ({ readFile: async () => text })
    expect(await refusal(["run", "--config", "/c.yaml"], withFile("apiPort: 1\n"))).toMatch(
      /\/c.yaml: Expected no excess property[\s\S]*apiPort/,
    )
    expect(await refusal(["run", "--config", "/c.yaml"], withFile("api: [\n"))).toMatch(
      /not YAML or JSON/,
    )
  })

  it("takes the lease length from --lease-seconds and refuses one outside 3..3600", async () => {
    const command = await run(["run", "--lease-seconds", "3"])
    expect(command._tag === "Run" && command.config.leaseSeconds).toBe(3)
    expect(await refusal(["run", "--lease-seconds", "1"])).toContain(
      'configuration leaseSeconds: "1" is not a whole number of seconds from 3 to 3600',
    )
  })

  it("takes the warm pods from --warm-pods, BEEMESH_WARM_PODS or warmPods, 0..64 (default none)", async () => {
    const none = await run(["run"])
    expect(none._tag === "Run" && none.config.warmPods).toBeUndefined()
    const fromFlag = await run(["run", "--warm-pods", "4"])
    expect(fromFlag._tag === "Run" && fromFlag.config.warmPods).toBe(4)
    const fromEnv = await run(["run"], { env: { BEEMESH_WARM_PODS: "2" } })
    expect(fromEnv._tag === "Run" && fromEnv.config.warmPods).toBe(2)
    const fromFile = await run(["run", "--config", "/c.yaml"], {
      readFile: async () => "warmPods: 3\n",
    })
    expect(fromFile._tag === "Run" && fromFile.config.warmPods).toBe(3)
    const zero = await run(["run", "--warm-pods", "0"])
    expect(zero._tag === "Run" && zero.config.warmPods).toBeUndefined()
    for (const bad of ["-1", "65", "1.5", "many", ""])
      expect(await refusal(["run", `--warm-pods=${bad}`])).toContain(
        `configuration warmPods: "${bad}" is not a whole number of pods from 0 to 64`,
      )
  })

  it("takes the session nice from --nice, BEEMESH_NICE or nice, -20..19 (default: none given)", async () => {
    const none = await run(["run"])
    expect(none._tag === "Run" && none.config.nice).toBeUndefined()
    const fromFlag = await run(["run", "--nice=-5"])
    expect(fromFlag._tag === "Run" && fromFlag.config.nice).toBe(-5)
    const fromEnv = await run(["run"], { env: { BEEMESH_NICE: "0" } })
    expect(fromEnv._tag === "Run" && fromEnv.config.nice).toBe(0)
    const fromFile = await run(["run", "--config", "/c.yaml"], {
      readFile: async () => "nice: -20\n",
    })
    expect(fromFile._tag === "Run" && fromFile.config.nice).toBe(-20)
    for (const bad of ["-21", "20", "1.5", "high", ""])
      expect(await refusal(["run", `--nice=${bad}`])).toContain(
        `configuration nice: "${bad}" is not a whole number from -20 to 19`,
      )
  })

  it("takes the mesh key file from --mesh-key, BEEMESH_MESH_KEY or meshKey, as an absolute path", async () => {
    const fromFlag = await run(["run", "--mesh-key", "/etc/beemesh/mesh.key"])
    expect(fromFlag._tag === "Run" && fromFlag.config.meshKeyFile).toBe("/etc/beemesh/mesh.key")
    const fromEnv = await run(["run"], { env: { BEEMESH_MESH_KEY: "/k/env.key" } })
    expect(fromEnv._tag === "Run" && fromEnv.config.meshKeyFile).toBe("/k/env.key")
    const fromFile = await run(["run", "--config", "/c.yaml"], {
      readFile: async () => "meshKey: /k/file.key\n",
    })
    expect(fromFile._tag === "Run" && fromFile.config.meshKeyFile).toBe("/k/file.key")
    const none = await run(["run"])
    expect(none._tag === "Run" && none.config.meshKeyFile).toBeUndefined()
    expect(await refusal(["run", "--mesh-key", "mesh.key"])).toContain(
      'configuration meshKey: "mesh.key" must be an absolute path',
    )
  })

  it("mesh init writes to --mesh-key, else to the data directory's mesh.key", async () => {
    expect(await run(["mesh", "init"])).toEqual({
      _tag: "MeshInit",
      path: "/var/lib/beemesh/mesh.key",
      authorityKeyPath: "/var/lib/beemesh/mesh-authority.key",
    })
    expect(await run(["mesh", "init", "--data-dir", "/d"])).toEqual({
      _tag: "MeshInit",
      path: "/d/mesh.key",
      authorityKeyPath: "/d/mesh-authority.key",
    })
    expect(await run(["mesh", "init", "--mesh-key", "/etc/beemesh/mesh.key"])).toEqual({
      _tag: "MeshInit",
      path: "/etc/beemesh/mesh.key",
      authorityKeyPath: "/var/lib/beemesh/mesh-authority.key",
    })
    expect(await refusal(["mesh"])).toContain("mesh needs a subcommand: mesh init")
    expect(await refusal(["mesh", "rotate"])).toContain('unknown mesh subcommand "rotate"')
    expect(await refusal(["mesh", "init", "now"])).toContain('unexpected argument "now"')
  })

  it("mesh certify and mesh revoke take the authority key and what to sign", async () => {
    const peer = "12D3KooWA5WvmLtbRyfaPHzYBgMuD8kVFr7Ek5khaKPBB6A4jRE2"
    expect(
      await run([
        "mesh",
        "certify",
        "--authority-key",
        "/a.key",
        "--peer-id",
        peer,
        "--days",
        "30",
      ]),
    ).toEqual({
      _tag: "MeshCertify",
      authorityKey: "/a.key",
      peerId: peer,
      days: 30,
      out: undefined,
    })
    expect(
      await run([
        "mesh",
        "revoke",
        "--authority-key",
        "/a.key",
        "--peer-id",
        peer,
        "--serial",
        "s1",
      ]),
    ).toEqual({
      _tag: "MeshRevoke",
      authorityKey: "/a.key",
      peerIds: [peer],
      serials: ["s1"],
      list: undefined,
      out: undefined,
    })
    expect(await refusal(["mesh", "certify", "--peer-id", peer])).toContain("--authority-key FILE")
    expect(await refusal(["mesh", "certify", "--authority-key", "/a.key"])).toContain(
      "exactly one --peer-id",
    )
    expect(
      await refusal(["mesh", "certify", "--authority-key", "/a.key", "--peer-id", "nope"]),
    ).toContain('"nope" is not a libp2p peer id')
    expect(await refusal(["mesh", "revoke", "--authority-key", "/a.key"])).toContain(
      "--peer-id PEERID or --serial SERIAL",
    )
  })

  it("takes the mesh authority, the certificate and a revocation list", async () => {
    const peer = "12D3KooWA5WvmLtbRyfaPHzYBgMuD8kVFr7Ek5khaKPBB6A4jRE2"
    const command = await run([
      "run",
      "--mesh-authority",
      peer,
      "--certificate",
      "/c/agent.cert",
      "--revocations",
      "/c/revoked",
    ])
    expect(command._tag === "Run" && command.config).toMatchObject({
      meshAuthority: peer,
      certificateFile: "/c/agent.cert",
      revocationsFile: "/c/revoked",
    })
    expect(await refusal(["run", "--mesh-authority", "x"])).toContain('"x" is not a libp2p peer id')
    expect(await refusal(["run", "--certificate", "agent.cert"])).toContain("absolute path")
  })

  it("runs the replicated catalog unless --no-catalog, BEEMESH_CATALOG or catalog turns it off", async () => {
    const catalogOf = async (argv: ReadonlyArray<string>, extra: Partial<ConfigSources> = {}) => {
      const command = await run(argv, extra)
      return command._tag === "Run" ? command.config.catalog : "not run"
    }
    const file = (text: string) => ({
      readFile: async () => text,
    })
    expect(await catalogOf(["run"])).toBeUndefined()
    expect(await catalogOf(["run", "--no-catalog"])).toBe(false)
    expect(await catalogOf(["run"], { env: { BEEMESH_CATALOG: "off" } })).toBe(false)
    expect(await catalogOf(["run"], { env: { BEEMESH_CATALOG: "On" } })).toBeUndefined()
    expect(await catalogOf(["run", "--config", "/c.yaml"], file("catalog: false\n"))).toBe(false)
    expect(await catalogOf(["run", "--config", "/c.yaml"], file("catalog: off\n"))).toBe(false)
    // The flag wins over the environment, the environment over the file.
    expect(
      await catalogOf(["run", "--config", "/c.yaml"], {
        ...file("catalog: false\n"),
        env: { BEEMESH_CATALOG: "true" },
      }),
    ).toBeUndefined()
    expect(await catalogOf(["run", "--no-catalog"], { env: { BEEMESH_CATALOG: "on" } })).toBe(false)
    expect(await refusal(["run"], { env: { BEEMESH_CATALOG: "maybe" } })).toContain(
      '"maybe" is not on or off',
    )
    expect(await refusal(["run"], { env: { BEEMESH_CATALOG: "constructor" } })).toContain(
      "is not on or off",
    )
  })
})
