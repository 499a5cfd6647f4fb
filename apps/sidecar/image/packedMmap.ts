/**
 * The sidecar image's preloaded library `packed-mmap.c` (its comment says why): built with the
 * host's C compiler against the host's glibc, the glibc that node-rootfs.sh copies into the image,
 * and preloaded through the Containerfile's `ENV LD_PRELOAD` (a unit test checks the two agree).
 */
import { spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** Where the image holds the library. */
export const PACKED_MMAP_LIBRARY = "/usr/local/lib/libbeemesh-packed-mmap.so"

export const PACKED_MMAP_SOURCE = join(dirname(fileURLToPath(import.meta.url)), "packed-mmap.c")

/** The environment that preloads it into every process of the container. */
export const packedMmapEnvironment: Readonly<Record<string, string>> = {
  LD_PRELOAD: PACKED_MMAP_LIBRARY,
}

/** Compiles the library to `outfile` (cc, from the gcc package) and returns its path. */
export const buildPackedMmap = (outfile: string): string => {
  mkdirSync(dirname(outfile), { recursive: true })
  const args = ["-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", outfile]
  const run = spawnSync("cc", [...args, PACKED_MMAP_SOURCE], { encoding: "utf8" })
  if (run.error !== undefined)
    throw new Error(
      `cc could not start (${run.error.message}): install gcc (tooling/scripts/host-setup.sh)`,
    )
  if (run.status !== 0) throw new Error(`cc ${args.join(" ")} failed:\n${run.stderr}`)
  return outfile
}
