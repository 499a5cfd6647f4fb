import { describe, expect, it } from "@effect/vitest"
import { defaultHostTools } from "../HostTools.js"
import { enterArgv } from "../internal/namespaceEntry.js"
import { defaultSlirpOptions } from "../SlirpOptions.js"
import { slirpCommand } from "./Slirp.js"

const tools = defaultHostTools(0)

describe("slirpCommand", () => {
  const base = {
    options: defaultSlirpOptions,
    netns: "/run/netns/x",
    userns: undefined,
    tapName: "tap0",
    apiSocket: "/tmp/s.sock",
    sandbox: true,
    seccomp: true,
    privateMounts: true,
  }

  it("rootful: sandboxed inside a private mount namespace, ready and exit pipes, the options", () => {
    expect(slirpCommand(tools, base)).toEqual([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "--",
      "slirp4netns",
      "--configure",
      "--ready-fd=3",
      "--exit-fd=4",
      "--api-socket=/tmp/s.sock",
      "--enable-sandbox",
      "--enable-seccomp",
      "--mtu=1500",
      "--cidr=10.0.2.0/24",
      "--enable-ipv6",
      "--netns-type=path",
      "/run/netns/x",
      "tap0",
    ])
  })

  it("rootless: joins the owning user namespace, no sandbox, no wrapper", () => {
    const argv = slirpCommand(tools, {
      ...base,
      options: { ...defaultSlirpOptions, allowHostLoopback: false },
      netns: "/proc/42/ns/net",
      userns: "/proc/42/ns/user",
      sandbox: false,
      privateMounts: false,
    })
    expect(argv[0]).toBe("slirp4netns")
    expect(argv).not.toContain("--enable-sandbox")
    expect(argv).toContain("--disable-host-loopback")
    expect(argv.slice(-3)).toEqual(["--userns-path=/proc/42/ns/user", "/proc/42/ns/net", "tap0"])
  })
})

describe("enterArgv", () => {
  it("enters a namespace file with nsenter, never ip netns exec", () => {
    expect(enterArgv(tools, { path: "/run/netns/x" }, ["ip", "addr"])).toEqual([
      "nsenter",
      "--net=/run/netns/x",
      "--",
      "ip",
      "addr",
    ])
  })

  it("enters a process's user namespace first, then drops to a UID with setpriv", () => {
    expect(enterArgv(tools, { pid: 42, userns: true }, ["id"], { uid: 1337 })).toEqual([
      "nsenter",
      "--user=/proc/42/ns/user",
      "--net=/proc/42/ns/net",
      "--",
      "setpriv",
      "--reuid=1337",
      "--regid=1337",
      "--clear-groups",
      "--",
      "id",
    ])
    expect(enterArgv(tools, { pid: 42 }, ["id"])[1]).toBe("--net=/proc/42/ns/net")
  })
})
