/**
 * Test images, built offline from local files only (nothing pulled), tagged by a hash of their
 * inputs so each run builds them at most once, and labelled io.beemesh.test=1.
 *
 * - busybox: FROM scratch + /bin/busybox from Debian's busybox-static (applets installed as links).
 * - node:    FROM scratch + the Node 24 binary and its glibc libraries (tooling/images/node-rootfs.sh).
 */
import { createHash } from "node:crypto"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { execa } from "execa"
import { LABEL_TEST, PodmanClient } from "../../src/index.js"

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..")
export const NODE_ROOTFS_SCRIPT = join(REPO_ROOT, "tooling/images/node-rootfs.sh")
export const BUSYBOX_BINARY = "/bin/busybox"

const BUSYBOX_CONTAINERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
`
const NODE_CONTAINERFILE = `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin
CMD ["/usr/local/bin/node"]
`

const hashOf = (...parts: ReadonlyArray<string | Buffer>) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest("hex").slice(0, 12)
}

export interface TestImages {
  readonly busybox: string
  readonly node: string
}

const prerequisite = (path: string, what: string, fix: string) =>
  existsSync(path)
    ? Effect.void
    : Effect.die(new Error(`missing prerequisite: ${what} (${path}); ${fix}`))

const buildIfMissing = (tag: string, stage: (dir: string) => Promise<void>) =>
  Effect.gen(function* () {
    const client = yield* PodmanClient
    if (yield* client.images.exists(tag)) return tag
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "beemesh-image-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true })),
    )
    yield* Effect.promise(() => stage(dir))
    yield* client.images.build({ contextDir: dir, tag, labels: { [LABEL_TEST]: "1" } })
    return tag
  }).pipe(Effect.scoped)

/** Builds (once per content hash) and returns the test images' tags. */
export const ensureTestImages = (nodeBinary: string) =>
  Effect.gen(function* () {
    yield* prerequisite(BUSYBOX_BINARY, "busybox-static", "apt-get install busybox-static")
    yield* prerequisite(nodeBinary, "Node 24 binary", "run tooling/scripts/toolchain.sh")
    const busyboxTag = `localhost/beemesh-test-busybox:${hashOf(BUSYBOX_CONTAINERFILE, readFileSync(BUSYBOX_BINARY))}`
    const nodeTag = `localhost/beemesh-test-node:${hashOf(NODE_CONTAINERFILE, readFileSync(NODE_ROOTFS_SCRIPT), readFileSync(nodeBinary))}`
    const busybox = yield* buildIfMissing(busyboxTag, async (dir) => {
      copyFileSync(BUSYBOX_BINARY, join(dir, "busybox"))
      writeFileSync(join(dir, "Containerfile"), BUSYBOX_CONTAINERFILE)
    })
    const node = yield* buildIfMissing(nodeTag, async (dir) => {
      await execa("bash", [NODE_ROOTFS_SCRIPT, nodeBinary, join(dir, "rootfs")])
      writeFileSync(join(dir, "Containerfile"), NODE_CONTAINERFILE)
    })
    return { busybox, node } satisfies TestImages
  })
