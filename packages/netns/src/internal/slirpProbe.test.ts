import { describe, expect, it } from "@effect/vitest"
import { defaultSlirpOptions } from "../SlirpOptions.js"
import { featuresFor, versionAtLeast } from "./slirpProbe.js"

describe("slirp4netns probing", () => {
  it("compares versions numerically", () => {
    expect(versionAtLeast("1.2.0", "1.1.0")).toBe(true)
    expect(versionAtLeast("1.1.0", "1.1.0")).toBe(true)
    expect(versionAtLeast("1.0.9", "1.1.0")).toBe(false)
    expect(versionAtLeast("1.10.0", "1.9.3")).toBe(true)
    expect(versionAtLeast("1.2.0-beta.1", "1.2.0")).toBe(true)
  })

  it("needs the flags the options use", () => {
    expect(featuresFor(defaultSlirpOptions)).toContain("enable-ipv6")
    expect(featuresFor(defaultSlirpOptions)).not.toContain("disable-host-loopback")
    const off = featuresFor({ ...defaultSlirpOptions, enableIpv6: false, allowHostLoopback: false })
    expect(off).toContain("disable-host-loopback")
    expect(off).not.toContain("enable-ipv6")
    expect(featuresFor(defaultSlirpOptions, { userns: true })).toContain("userns-path")
    expect(featuresFor({ ...defaultSlirpOptions, outboundAddr: "eth0" })).toContain("outbound-addr")
  })
})
