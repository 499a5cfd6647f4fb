import { readFileSync } from "node:fs"
import { join } from "node:path"
import { SidecarIdentity, SidecarPorts } from "@beemesh/contract"
import { describe, expect, it } from "vitest"
import { compileCacheEnvironment } from "../../image/compileCache"
import { mallocEnvironment } from "../../image/malloc"
import { packedMmapEnvironment } from "../../image/packedMmap"
import { SIDECAR_NODE_FLAGS } from "../../src/NodeFlags"

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

  it("runs the bundle with the sidecar's node flags (the flags its compile cache was written with)", () => {
    const line = /^ENTRYPOINT (.*)$/m.exec(containerfile)?.[1]
    expect(line).toBeDefined()
    expect(JSON.parse(line!)).toEqual([
      "/usr/local/bin/node",
      ...SIDECAR_NODE_FLAGS,
      "/app/sidecar.mjs",
    ])
  })

  it("starts node from the compile cache copied next to the bundle", () => {
    expect(containerfile).toMatch(/^COPY app\/ \/app\/$/m)
    const env = new Map(
      (/^ENV (.*)$/m.exec(containerfile)?.[1] ?? "").split(" ").map((kv) => {
        const [key = "", ...value] = kv.split("=")
        return [key, value.join("=")] as const
      }),
    )
    for (const [key, value] of Object.entries(compileCacheEnvironment("/app/sidecar.mjs")))
      expect(env.get(key), key).toBe(value)
  })

  it("tunes glibc's malloc as the footprint bench measured it", () => {
    const env = /^ENV (.*)$/m.exec(containerfile)?.[1] ?? ""
    for (const [key, value] of Object.entries(mallocEnvironment))
      expect(env.split(" "), key).toContain(`${key}=${value}`)
  })

  it("preloads the library that packs V8's heap pages", () => {
    const env = /^ENV (.*)$/m.exec(containerfile)?.[1] ?? ""
    for (const [key, value] of Object.entries(packedMmapEnvironment))
      expect(env.split(" "), key).toContain(`${key}=${value}`)
  })
})
