/**
 * The benchmark workload's image, `localhost/beemesh/bench-echo:1`: the sidecar image's Node
 * runtime (no other Node image exists offline) plus echo.mjs, run as an ordinary user (1000, not
 * the sidecar's 1337). Built with the machine's Podman; needs the sidecar image first.
 */
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const BENCH_IMAGE = "localhost/beemesh/bench-echo:1"
const ECHO = join(dirname(fileURLToPath(import.meta.url)), "echo.mjs")

export const buildBenchImage = (sidecarImage: string) => {
  const context = mkdtempSync(join(tmpdir(), "beemesh-bench-image-"))
  try {
    copyFileSync(ECHO, join(context, "echo.mjs"))
    writeFileSync(
      join(context, "Containerfile"),
      [
        `FROM ${sidecarImage}`,
        "COPY echo.mjs /bench/echo.mjs",
        "USER 1000:1000",
        'ENTRYPOINT ["/usr/local/bin/node", "/bench/echo.mjs"]',
        'CMD ["idle"]',
        "",
      ].join("\n"),
    )
    const result = spawnSync(
      "podman",
      [
        "build",
        "--pull=never",
        "--timestamp=0",
        "--label=io.beemesh.test=1",
        "-t",
        BENCH_IMAGE,
        "-f",
        join(context, "Containerfile"),
        context,
      ],
      { encoding: "utf8" },
    )
    if (result.status !== 0)
      throw new Error(
        `podman build of ${BENCH_IMAGE} failed (build the sidecar image first: pnpm --filter @beemesh/sidecar image): ${result.stderr || result.error?.message}`,
      )
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

/** Removes the image again (the benchmark builds it on every run). */
export const removeBenchImage = () => {
  spawnSync("podman", ["rmi", "--force", BENCH_IMAGE], { stdio: "ignore" })
}
