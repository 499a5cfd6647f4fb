/**
 * The bundle's V8 code cache (Node's compile cache), written when the bundle is built and shipped
 * next to it, so a sidecar starts from bytecode instead of compiling its 1.8 MB of source.
 *
 * Why: compiling the bundle at start fills glibc's heap with parser and compiler memory that is
 * freed afterwards but stays resident (glibc returns only the top of its heap): about 13 MiB of
 * private memory in every pod's sidecar, for its whole life. Starting from the cache skips that
 * work (measured: the heap's resident size 19.6 → 6 MiB).
 *
 * The cache is only used by a node with the same version and the same V8 flags, hence it is
 * written by running the bundle with the flags the image's entrypoint passes (`SIDECAR_NODE_FLAGS`)
 * plus `--predictable`, which V8 leaves out of the cache's flag check and which makes the output
 * the same bytes for the same sources (the image stays reproducible). The cache records the
 * bundle's path too, so it is written from a path that depends only on the bundle's content;
 * `NODE_COMPILE_CACHE_PORTABLE` lets it serve the bundle at any other path with the same layout.
 * Node keeps a cache per user (its directory ends in `-<uid>`): the image's is renamed for the
 * sidecar's UID. A node started with other flags (the `healthcheck` command) misses it and
 * compiles as before; the directory is read-only to the sidecar, so nothing is written at run time.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from "node:fs"
import { dirname, join } from "node:path"
import { SIDECAR_NODE_FLAGS } from "../src/NodeFlags"

/** The cache's directory name, next to the bundle (`/app/compile-cache` in the image). */
export const COMPILE_CACHE_DIR = "compile-cache"

/** The environment under which node uses the cache next to `bundlePath`. */
export const compileCacheEnvironment = (bundlePath: string): Record<string, string> => ({
  NODE_COMPILE_CACHE: join(dirname(bundlePath), COMPILE_CACHE_DIR),
  NODE_COMPILE_CACHE_PORTABLE: "1",
})

const files = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))

/**
 * Writes the cache of `bundlePath` into `<its directory>/compile-cache` (replacing one there),
 * readable by everyone, for the user `forUid` (default: this process's), and returns that
 * directory. `nodeBinary` must be the node that will run the bundle (the same version).
 */
export const writeCompileCache = (
  bundlePath: string,
  nodeBinary: string,
  forUid: number = process.getuid?.() ?? 0,
): string => {
  const source = readFileSync(bundlePath)
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 16)
  // A path made of the content only (not $TMPDIR either): the same sources give the same bytes.
  const staging = `/tmp/beemesh-sidecar-compile-cache-${digest}`
  const stagedBundle = join(staging, "app", "sidecar.mjs")
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(dirname(stagedBundle), { recursive: true })
  try {
    copyFileSync(bundlePath, stagedBundle)
    // Without its environment the sidecar evaluates every module, then exits 2 before any I/O.
    const run = spawnSync(nodeBinary, ["--predictable", ...SIDECAR_NODE_FLAGS, stagedBundle], {
      cwd: staging,
      env: compileCacheEnvironment(stagedBundle),
      encoding: "utf8",
      timeout: 60_000,
    })
    if (run.error !== undefined)
      throw new Error(`cannot run ${nodeBinary} to write the compile cache: ${run.error.message}`)
    if (run.status !== 2)
      throw new Error(
        `writing the compile cache: the bundle exited ${run.status ?? run.signal} without its environment, expected 2 (an invalid environment):\n${run.stderr}`,
      )
    const staged = join(dirname(stagedBundle), COMPILE_CACHE_DIR)
    const written = files(staged)
    if (written.length !== 1)
      throw new Error(
        `writing the compile cache: expected one cache file in ${staged}, found ${written.length} (does ${nodeBinary} support NODE_COMPILE_CACHE, Node ≥ 22.1?)`,
      )
    const [versionDir = ""] = readdirSync(staged)
    const builder = `-${process.getuid?.() ?? 0}`
    if (!versionDir.endsWith(builder))
      throw new Error(
        `writing the compile cache: node named its directory ${versionDir}, expected a name ending in ${builder} (its user id); this node version lays the cache out differently`,
      )
    renameSync(
      join(staged, versionDir),
      join(staged, `${versionDir.slice(0, -builder.length)}-${forUid}`),
    )
    const target = join(dirname(bundlePath), COMPILE_CACHE_DIR)
    rmSync(target, { recursive: true, force: true })
    cpSync(staged, target, { recursive: true })
    // node writes it 0600; the sidecar runs as another user than the one building the image.
    chmodSync(target, 0o755)
    for (const entry of readdirSync(target, { recursive: true, withFileTypes: true }))
      chmodSync(join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644)
    return target
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}
