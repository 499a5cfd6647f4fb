/**
 * The sidecar's V8 compile cache, built into the image (`NODE_COMPILE_CACHE=/app/compile-cache`):
 * Node reads the bundle's compiled code at start instead of parsing and compiling 1.8 MB of
 * JavaScript (measured on these hosts: loading the bundle ~950 → ~450 ms), and a new replica's
 * sidecar registers that much sooner.
 *
 * The cache is made by running the image once without configuration (the sidecar loads, refuses
 * to start and exits), as the image's own user, so it matches the image's Node, bundle, V8 flags
 * and UID exactly: V8 ignores a cache made with other flags, and Node looks for it in a directory
 * named after the UID (one made as root is never found by UID 1337). Its bytes differ from one
 * run to the next, so the cache made for given inputs is kept on this machine (under
 * node_modules/.cache) and reused: building the same sources again gives the same image id.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs"
import { join } from "node:path"

/** Where the image keeps it (the Containerfile's NODE_COMPILE_CACHE). */
export const COMPILE_CACHE_PATH = "/app/compile-cache"

/** A digest of everything the cache depends on: the bundle, the Node binary, the Containerfile. */
export const compileCacheKey = (inputs: ReadonlyArray<string>) => {
  // The version of how the cache is made: a cache made another way is never reused.
  const hash = createHash("sha256").update("made as the image's user, v2")
  for (const file of inputs) hash.update(readFileSync(file))
  return hash.digest("hex").slice(0, 32)
}

const filesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) =>
    statSync(join(dir, f)).isFile(),
  )

/**
 * Runs `image` once with an empty directory mounted at the cache's path and keeps what Node
 * wrote there as `stored` (replacing the caches of other inputs under the same parent).
 */
export const makeCompileCache = (image: string, stored: string) => {
  const parent = join(stored, "..")
  mkdirSync(parent, { recursive: true })
  const fresh = mkdtempSync(join(parent, "making-"))
  // Node keeps its cache in a directory named after the process's UID: the image's user (the
  // sidecar's) must make it, and may write only here.
  chmodSync(fresh, 0o777)
  try {
    const result = spawnSync(
      "podman",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--volume",
        `${fresh}:${COMPILE_CACHE_PATH}`,
        image,
      ],
      { encoding: "utf8", timeout: 60_000 },
    )
    if (result.error !== undefined)
      throw new Error(`podman could not run ${image}: ${result.error.message}`)
    // Without configuration the sidecar exits 2 (after loading): that run is the point.
    if (filesUnder(fresh).length === 0)
      throw new Error(
        `running ${image} once wrote no compile cache (exit ${result.status}):\n${result.stderr}`,
      )
    for (const entry of readdirSync(parent))
      if (join(parent, entry) !== fresh)
        rmSync(join(parent, entry), { recursive: true, force: true })
    renameSync(fresh, stored)
  } finally {
    rmSync(fresh, { recursive: true, force: true })
  }
}

/** Copies the stored cache into the image's build context, readable by the sidecar's user. */
export const copyCompileCache = (stored: string, target: string) => {
  if (!existsSync(stored)) throw new Error(`no compile cache at ${stored}`)
  cpSync(stored, target, { recursive: true })
  chmodSync(target, 0o755)
  for (const entry of readdirSync(target, { recursive: true, encoding: "utf8" }))
    chmodSync(join(target, entry), statSync(join(target, entry)).isDirectory() ? 0o755 : 0o644)
}
