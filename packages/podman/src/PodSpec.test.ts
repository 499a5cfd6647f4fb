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
})
