import { readFileSync } from "node:fs"
import { join } from "node:path"
import { SidecarIdentity, SidecarPorts } from "@beemesh/contract"
import { describe, expect, it } from "vitest"

// The image is built from a static Containerfile; the agent starts its container with the
// contract's user and publishes the contract's port, so the file must say the same.
const containerfile = readFileSync(join(import.meta.dirname, "../../image/Containerfile"), "utf8")

describe("the sidecar image's Containerfile", () => {
  it("runs as the sidecar's identity", () => {
    expect(containerfile).toMatch(
      new RegExp(`^USER ${SidecarIdentity.UID}:${SidecarIdentity.UID}$`, "m"),
    )
  })

  it("exposes the proxy port", () => {
    expect(containerfile).toMatch(new RegExp(`^EXPOSE ${SidecarPorts.PROXY_PORT}$`, "m"))
  })
})
