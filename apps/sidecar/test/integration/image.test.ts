/**
 * The image command: offline, reproducible (same sources → same image id), FROM scratch with
 * Node 24, UID 1337, exec-form entrypoint with the sidecar's node flags (SIDECAR_NODE_FLAGS), labelled.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { buildSidecarImage, SIDECAR_IMAGE } from "../../image/build"
import { PACKED_MMAP_LIBRARY } from "../../image/packedMmap"
import { SIDECAR_NODE_FLAGS } from "../../src/NodeFlags"
import { requirePrerequisites, SUITE_LABELS, uniqueName } from "../support/podman"

interface ImageInspect {
  readonly Id: string
  readonly Config: {
    readonly User?: string
    readonly Entrypoint?: ReadonlyArray<string>
    readonly Labels?: Record<string, string>
  }
  readonly History?: ReadonlyArray<{ readonly created_by?: string }>
}

const inspect = (ref: string): ImageInspect => {
  const [image] = JSON.parse(
    execFileSync("podman", ["image", "inspect", ref], { encoding: "utf8" }),
  )
  return image
}

describe("the sidecar image", () => {
  it("builds reproducibly into a scratch image that runs Node 24 as 1337", async () => {
    requirePrerequisites()
    const first = await buildSidecarImage()
    const second = await buildSidecarImage()
    expect(second.tag).toBe(SIDECAR_IMAGE)
    expect(SIDECAR_IMAGE).toMatch(/^localhost\/beemesh\/sidecar:\d+\.\d+\.\d+$/)
    expect(second.id).toBe(first.id)

    const image = inspect(SIDECAR_IMAGE)
    expect(image.Config.User).toBe("1337:1337")
    expect(image.Config.Entrypoint).toEqual([
      "/usr/local/bin/node",
      ...SIDECAR_NODE_FLAGS,
      "/app/sidecar.mjs",
    ])
    expect(image.Config.Labels?.["io.beemesh.component"]).toBe("sidecar")
    // Two layers: the rootfs and the bundle; nothing from a base image.
    const copies = (image.History ?? []).filter((h) => (h.created_by ?? "").includes("COPY"))
    expect(copies).toHaveLength(2)

    const version = execFileSync(
      "podman",
      [
        "run",
        "--rm",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--network",
        "none",
        "--entrypoint",
        "/usr/local/bin/node",
        SIDECAR_IMAGE,
        "-p",
        'process.version + " " + process.getuid()',
      ],
      { encoding: "utf8" },
    ).trim()
    expect(version).toMatch(/^v24\.\d+\.\d+ 1337$/)
  })

  it("starts the sidecar from the compile cache built into it, as UID 1337", () => {
    requirePrerequisites()
    // Built by the test above (files run in order). Without its environment the sidecar exits 2
    // once its modules are evaluated: enough to see whether V8 took the cached code.
    const run = spawnSync(
      "podman",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "--env",
        "NODE_DEBUG_NATIVE=COMPILE_CACHE",
        SIDECAR_IMAGE,
      ],
      { encoding: "utf8", timeout: 60_000 },
    )
    expect(run.status, run.stderr).toBe(2)
    expect(run.stderr).toContain("code cache for ESM file:///app/sidecar.mjs was accepted")
    expect(run.stderr).not.toMatch(/permission denied|rejected/)
  })

  it("frees the compile cache's bytes once started, writing nothing into the container", async () => {
    requirePrerequisites()
    // A sidecar with a valid environment and no network: it starts (registration then retries
    // against an agent it cannot reach) and flushes Node's compile cache.
    const name = uniqueName("sidecar-cache")
    const env = {
      NODE_DEBUG_NATIVE: "COMPILE_CACHE",
      BEEMESH_NAMESPACE: "test",
      BEEMESH_WORKLOAD: "cache",
      BEEMESH_POD: "cache-0",
      BEEMESH_POD_TOKEN: "cache-token-0123456789",
      BEEMESH_ADVERTISE: "/ip4/127.0.0.1/tcp/8080",
    }
    execFileSync("podman", [
      "run",
      "-d",
      "--name",
      name,
      ...Object.entries(SUITE_LABELS).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
      "--network",
      "none",
      ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      SIDECAR_IMAGE,
    ])
    try {
      const logs = () => {
        const r = spawnSync("podman", ["logs", name], { encoding: "utf8" })
        return `${r.stdout}${r.stderr}`
      }
      const deadline = Date.now() + 30_000
      while (!logs().includes("module.flushCompileCache() finished") && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200))
      const output = logs()
      expect(output).toContain("code cache for ESM file:///app/sidecar.mjs was accepted")
      expect(output).toContain("because cache was the same")
      expect(output).toContain("module.flushCompileCache() finished")
      // The image's preloaded library is in the sidecar's process (image/packed-mmap.c).
      const maps = execFileSync(
        "podman",
        [
          "exec",
          name,
          "/usr/local/bin/node",
          "-p",
          'require("fs").readFileSync("/proc/1/maps", "utf8")',
        ],
        { encoding: "utf8" },
      )
      expect(maps).toContain(PACKED_MMAP_LIBRARY)
      // Nothing added or changed in the image's files (the cache directory is read-only to 1337).
      const diff = execFileSync("podman", ["diff", name], { encoding: "utf8" })
      expect(diff.split("\n").filter((line) => line.includes("/app"))).toEqual([])
    } finally {
      spawnSync("podman", ["rm", "--force", "--time", "0", name])
    }
  })
})
