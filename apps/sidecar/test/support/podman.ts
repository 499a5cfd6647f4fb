/**
 * Podman fixtures for the sidecar's integration tests: prerequisites (fail, naming what is
 * missing), a Podman client that first sweeps this suite's orphaned test pods, the busybox app
 * image (built offline from busybox-static, tagged by content) and the sidecar image.
 */
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { LABEL_TEST, PodmanClient, sweepOrphanedPods } from "@beemesh/podman"
import { Effect, Layer } from "effect"
import { buildSidecarImage } from "../../image/build"

export const uniqueName = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`

/** Every pod this suite creates carries these (the sweeper only touches pods with them). */
export const SUITE_LABELS = { [LABEL_TEST]: "1", "io.beemesh.test-suite": "sidecar" } as const

const has = (command: string) => {
  try {
    execFileSync("sh", ["-c", 'command -v "$0"', command], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

export const requirePrerequisites = () => {
  const missing = ["podman", "slirp4netns", "runc", "tar"].filter((c) => !has(c))
  if (!existsSync(BUSYBOX)) missing.push("busybox-static (/bin/busybox)")
  if (missing.length > 0)
    throw new Error(
      `missing prerequisite(s): ${missing.join(", ")}; install them with tooling/scripts/host-setup.sh (as root)`,
    )
}

export const testClientLayer = Layer.effect(
  PodmanClient,
  Effect.gen(function* () {
    yield* Effect.sync(requirePrerequisites)
    const client = yield* PodmanClient
    yield* sweepOrphanedPods({ requireLabels: SUITE_LABELS }).pipe(
      Effect.provideService(PodmanClient, client),
    )
    return client
  }),
).pipe(Layer.provide(PodmanClient.layer({})))

const BUSYBOX = "/bin/busybox"
const BUSYBOX_CONTAINERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
`

/** The busybox app image, built once per content hash. */
export const ensureBusyboxImage = Effect.gen(function* () {
  const client = yield* PodmanClient
  const hash = createHash("sha256")
    .update(BUSYBOX_CONTAINERFILE)
    .update(readFileSync(BUSYBOX))
    .digest("hex")
  const tag = `localhost/beemesh-test-sidecar-app:${hash.slice(0, 12)}`
  if (yield* client.images.exists(tag)) return tag
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "beemesh-sidecar-app-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
  )
  copyFileSync(BUSYBOX, join(dir, "busybox"))
  writeFileSync(join(dir, "Containerfile"), BUSYBOX_CONTAINERFILE)
  yield* client.images.build({ contextDir: dir, tag, labels: { [LABEL_TEST]: "1" } })
  return tag
}).pipe(Effect.scoped)

/** Builds the sidecar image with the package's own `image` command (reproducible, cached layers). */
export const ensureSidecarImage = Effect.promise(() => buildSidecarImage()).pipe(
  Effect.map((i) => i.tag),
)
