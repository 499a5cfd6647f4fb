import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { hostLoopbackFromHosts, resolveHostLoopback, rewriteLoopback } from "./HostLoopback"

// What Podman writes into a Beemesh pod (hostadd host.containers.internal:10.0.2.2).
const POD_HOSTS = [
  "10.0.2.2\thost.containers.internal",
  "127.0.0.1\tlocalhost",
  "::1 localhost ip6-localhost",
  "10.0.2.100\tweb-0 e4bf43dcc361-infra",
  "127.0.0.1\tweb-0-sidecar",
].join("\n")

describe("hostLoopbackFromHosts", () => {
  it("finds host.containers.internal", () => {
    expect(hostLoopbackFromHosts(POD_HOSTS)).toBe("10.0.2.2")
  })
  it("ignores comments, IPv6 entries and other names", () => {
    expect(
      hostLoopbackFromHosts("# 10.0.2.9 host.containers.internal\n127.0.0.1 localhost\n"),
    ).toBeUndefined()
    expect(
      hostLoopbackFromHosts("fd00::2 host.containers.internal\n10.9.0.2 host.containers.internal"),
    ).toBe("10.9.0.2")
  })
})

describe("rewriteLoopback", () => {
  it("moves loopback addresses to the host loopback", () => {
    expect(rewriteLoopback("/ip4/127.0.0.1/tcp/40123", "10.0.2.2")).toBe("/ip4/10.0.2.2/tcp/40123")
    expect(rewriteLoopback("/ip4/127.1.2.3/tcp/1/p2p/12D3KooWx", "10.0.2.2")).toBe(
      "/ip4/10.0.2.2/tcp/1/p2p/12D3KooWx",
    )
  })
  it("leaves other addresses, and everything when there is no host loopback", () => {
    expect(rewriteLoopback("/ip4/192.168.1.7/tcp/40123", "10.0.2.2")).toBe(
      "/ip4/192.168.1.7/tcp/40123",
    )
    expect(rewriteLoopback("/ip4/127.0.0.1/tcp/40123", undefined)).toBe("/ip4/127.0.0.1/tcp/40123")
    expect(rewriteLoopback("/ip6/::1/tcp/40123", "10.0.2.2")).toBe("/ip6/::1/tcp/40123")
  })
})

describe("resolveHostLoopback", () => {
  it("reads the hosts file for auto, and nothing when it has no entry or is missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sidecar-hosts-"))
    try {
      const withEntry = join(dir, "pod")
      const without = join(dir, "host")
      await writeFile(withEntry, POD_HOSTS)
      await writeFile(without, "127.0.0.1 localhost\n")
      const auto = { _tag: "Auto" } as const
      expect(await Effect.runPromise(resolveHostLoopback(auto, withEntry))).toBe("10.0.2.2")
      expect(await Effect.runPromise(resolveHostLoopback(auto, without))).toBeUndefined()
      expect(
        await Effect.runPromise(resolveHostLoopback(auto, join(dir, "absent"))),
      ).toBeUndefined()
      expect(
        await Effect.runPromise(resolveHostLoopback({ _tag: "None" }, withEntry)),
      ).toBeUndefined()
      expect(
        await Effect.runPromise(resolveHostLoopback({ _tag: "Address", address: "10.9.0.2" })),
      ).toBe("10.9.0.2")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
