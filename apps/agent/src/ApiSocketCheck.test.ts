import { defaultSlirpOptions } from "@beemesh/netns"
import { describe, expect, it } from "vitest"
import { checkApiSocket, rootlessApiSocketPath } from "./ApiSocketCheck"
import { renderReport } from "./Doctor"

const slirp4netns = { ...defaultSlirpOptions, portHandler: "slirp4netns" as const }

describe("checkApiSocket", () => {
  it("passes a rootless agent whose runtime directory leaves room for the socket path", () => {
    expect(Buffer.byteLength(rootlessApiSocketPath("/run/user/1001"))).toBe(94)
    expect(checkApiSocket(slirp4netns, 1001, "/run/user/1001")).toMatchObject({ ok: true })
  })

  it("refuses a runtime directory whose API socket paths would not fit, naming both fixes", () => {
    const long = "/var/tmp/beemesh-hosts/c205/h3/user/run"
    const check = checkApiSocket(slirp4netns, 1001, long)
    expect(check?.ok).toBe(false)
    expect(check?.detail).toContain(`${long}/libpod/tmp/`)
    expect(check?.hint).toMatch(/XDG_RUNTIME_DIR of at most 27 bytes.*port_handler=rootlesskit/)
    const report = renderReport({ ok: false, checks: [check!] })
    expect(report).toContain("✗ slirp-api-socket:")
    expect(report).toContain("fix: give the agent an XDG_RUNTIME_DIR")
  })

  it("does not apply rootful, with rootlessport, or without a runtime directory", () => {
    const long = "/x".repeat(60)
    expect(checkApiSocket(slirp4netns, 0, long)).toBeUndefined()
    expect(
      checkApiSocket({ ...slirp4netns, portHandler: "rootlesskit" }, 1001, long),
    ).toBeUndefined()
    expect(checkApiSocket(slirp4netns, 1001, undefined)).toBeUndefined()
  })
})
