import { defaultSlirpOptions } from "@beemesh/netns"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { decodePodSpec, type PodSpecInput } from "./PodSpec.js"

const base: PodSpecInput = {
  name: "web-1",
  containers: [
    { name: "sidecar", role: "sidecar", image: "localhost/sidecar:1" },
    { name: "app", role: "app", image: "localhost/app:1" },
  ],
}
const [sidecar, app] = base.containers

const decode = (input: unknown) => Effect.runSync(Effect.result(decodePodSpec(input)))
const failure = (input: unknown) => {
  const r = decode(input)
  if (r._tag !== "Failure") throw new Error("expected a failure")
  return r.failure
}

describe("PodSpec", () => {
  it("a standby spec has the sidecar only; any other spec at least one app", () => {
    const standby = (input: unknown) =>
      Effect.runSync(Effect.result(decodePodSpec(input, { standby: true })))
    expect(standby({ ...base, containers: [sidecar] })._tag).toBe("Success")
    const withApp = standby(base)
    expect(withApp._tag === "Failure" && withApp.failure.reason).toMatch(
      /standby pod has its sidecar only/,
    )
    expect(failure({ ...base, containers: [sidecar] }).reason).toMatch(/at least one app/)
  })

  it("takes the apps' hostname as a DNS label", () => {
    expect(decode({ ...base, hostname: "web-0" })._tag).toBe("Success")
    expect(failure({ ...base, hostname: "Web_0" }).field).toBe("hostname")
  })

  it("fills the default slirp4netns options when the network is not given", () => {
    const r = decode(base)
    expect(r._tag).toBe("Success")
    if (r._tag === "Success") expect(r.success.network).toEqual(defaultSlirpOptions)
  })

  it("keeps given network options and fills the rest", () => {
    const r = decode({ ...base, network: { cidr: "10.9.0.0/24" } })
    if (r._tag !== "Success") throw new Error(String(r.failure))
    expect(r.success.network).toEqual({ ...defaultSlirpOptions, cidr: "10.9.0.0/24" })
  })

  it.each([
    ["upper case", "Web"],
    ["underscore", "web_1"],
    ["leading dash", "-web"],
    ["too long", "a".repeat(64)],
    ["empty", ""],
  ])("refuses a pod name with %s", (_, name) => {
    expect(failure({ ...base, name })).toMatchObject({ _tag: "PodSpecInvalid", field: "name" })
  })

  it("refuses bad and duplicate container names", () => {
    expect(failure({ ...base, containers: [sidecar, { ...app, name: "App" }] })).toMatchObject({
      field: "containers[1].name",
    })
    expect(failure({ ...base, containers: [sidecar, app, { ...app }] }).reason).toContain(
      "used twice",
    )
  })

  it("needs exactly one sidecar and at least one app", () => {
    expect(failure({ ...base, containers: [app] }).reason).toContain("exactly one sidecar")
    expect(
      failure({ ...base, containers: [sidecar, { ...sidecar, name: "s2" }, app] }).reason,
    ).toContain("found 2")
    expect(failure({ ...base, containers: [sidecar] }).reason).toContain("at least one app")
  })

  it("refuses published ports on app containers and any sidecar port but 8080", () => {
    const appPorts = failure({ ...base, containers: [sidecar, { ...app, ports: [80] }] })
    expect(appPorts).toMatchObject({ field: "containers[1].ports" })
    expect(appPorts.message).toContain("app containers get none")
    expect(failure({ ...base, containers: [{ ...sidecar, ports: [9090] }, app] })).toMatchObject({
      field: "containers[0].ports",
    })
    expect(decode({ ...base, containers: [{ ...sidecar, ports: [8080] }, app] })._tag).toBe(
      "Success",
    )
  })

  it("refuses invalid slirp4netns options, naming the option", () => {
    expect(failure({ ...base, network: { mtu: 100 } })).toMatchObject({ field: "network.mtu" })
    expect(failure({ ...base, network: { cidr: "10.0.2.1/24" } })).toMatchObject({
      field: "network.cidr",
    })
  })

  it("refuses a host port outside 1-65535 and malformed input", () => {
    expect(failure({ ...base, hostPort: 70000 })).toMatchObject({ field: "hostPort" })
    expect(failure({ ...base, containers: "nope" })).toMatchObject({ field: "(spec)" })
  })

  it("accepts extra host entries and refuses bad names, addresses and Podman's own names", () => {
    const hosts = [{ name: "orders.shop.svc", address: "127.0.0.2" }]
    expect(decode({ ...base, hosts })._tag).toBe("Success")
    expect(failure({ ...base, hosts: [{ name: "Orders", address: "127.0.0.2" }] })).toMatchObject({
      field: "hosts[0].name",
      reason: expect.stringContaining("lower-case DNS name"),
    })
    expect(failure({ ...base, hosts: [{ name: "orders", address: "::1" }] })).toMatchObject({
      field: "hosts[0].address",
      reason: expect.stringContaining("not an IPv4 address"),
    })
    for (const name of ["localhost", "host.containers.internal"]) {
      expect(failure({ ...base, hosts: [{ name, address: "127.0.0.2" }] })).toMatchObject({
        field: "hosts[0].name",
        reason: expect.stringContaining("set by Podman"),
      })
    }
    expect(failure({ ...base, hosts: [...hosts, ...hosts] })).toMatchObject({
      field: "hosts[1].name",
      reason: expect.stringContaining("appears twice"),
    })
  })

  it("reserves the holder's name and refuses an app healthcheck, saying why", () => {
    expect(failure({ ...base, containers: [sidecar, { ...app, name: "holder" }] })).toMatchObject({
      field: "containers[1].name",
    })
    const check = { command: ["/bin/true"] }
    const appCheck = failure({ ...base, containers: [sidecar, { ...app, healthcheck: check }] })
    expect(appCheck).toMatchObject({ field: "containers[1].healthcheck" })
    expect(appCheck.message).toContain("user namespace")
    expect(decode({ ...base, containers: [{ ...sidecar, healthcheck: check }, app] })._tag).toBe(
      "Success",
    )
  })

  it("accepts NET_BIND_SERVICE as the only added capability and refuses malformed names", () => {
    const withSecurity = (security: unknown) => ({
      ...base,
      containers: [sidecar, { ...app, security }],
    })
    expect(
      decode(
        withSecurity({ capAdd: ["NET_BIND_SERVICE"], capDrop: ["ALL"], noNewPrivileges: true }),
      )._tag,
    ).toBe("Success")
    expect(decode(withSecurity({ capAdd: ["cap_net_bind_service"] }))._tag).toBe("Success")
    const added = failure(withSecurity({ capAdd: ["NET_BIND_SERVICE", "NET_RAW", "SYS_ADMIN"] }))
    expect(added).toMatchObject({ field: "containers[1].security.capAdd" })
    expect(added.message).toContain("adding NET_RAW, SYS_ADMIN is refused")
    expect(failure(withSecurity({ capDrop: ["net raw"] })).message).toContain("not a capability")
  })

  it("refuses an app ID base whose range covers the sidecar's UID or does not fit", () => {
    const covering = failure({ ...base, appIdBase: 1000 })
    expect(covering).toMatchObject({ field: "appIdBase" })
    expect(covering.message).toContain("sidecar's UID 1337")
    expect(failure({ ...base, appIdBase: 0 })).toMatchObject({ field: "appIdBase" })
    expect(failure({ ...base, appIdBase: 4294967000 })).toMatchObject({ field: "appIdBase" })
    expect(decode({ ...base, appIdBase: 1338 })._tag).toBe("Success")
  })

  it("takes a container's own stop timeout of 0 or more, naming the container when not", () => {
    const own = (seconds: number) => ({
      ...base,
      containers: [{ ...sidecar!, stopTimeoutSeconds: seconds }, app!],
    })
    expect(decode(own(0))._tag).toBe("Success")
    expect(decode(own(3))._tag).toBe("Success")
    const negative = failure(own(-1))
    expect(negative).toMatchObject({ field: "containers[0].stopTimeoutSeconds" })
    expect(negative.message).toContain("must be 0 or more")
    expect(failure(own(Number.NaN))).toMatchObject({ field: "containers[0].stopTimeoutSeconds" })
  })
})
