import { describe, expect, it } from "vitest"
import { podmanUser, UID, Uid } from "./SidecarIdentity.js"
import { HEALTH_PORT, PROXY_PORT, RESERVED } from "./SidecarPorts.js"

describe("SidecarIdentity", () => {
  it("is UID 1337, written for Podman as its decimal string", () => {
    expect(UID).toBe(1337)
    expect(podmanUser(UID)).toBe("1337")
  })

  it("refuses values that are not Unix user ids", () => {
    expect(() => Uid(-1)).toThrow(/not a Unix user id/)
    expect(() => Uid(1.5)).toThrow(/not a Unix user id/)
    expect(Uid(0)).toBe(0)
  })
})

describe("SidecarPorts", () => {
  it("are 8080 for the proxy and 8081 for health, both reserved inside the pod", () => {
    expect([PROXY_PORT, HEALTH_PORT]).toEqual([8080, 8081])
    expect(RESERVED).toEqual([8080, 8081])
  })
})
