/**
 * The image of a pod's holder: the container that owns the pod's network namespace (slirp4netns,
 * the published port) and runs nothing but `catatonit -P`. Podman's own pause image is built only
 * when a pod with an infra container is created, so Beemesh builds its own, offline, once per image
 * store: FROM scratch plus the host's static catatonit, tagged by a hash of both.
 */
import { createHash } from "node:crypto"
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { HolderImageUnavailable } from "./Errors.js"
import { PodmanClient } from "./PodmanClient.js"

const HOLDER_IMAGE_REPOSITORY = "localhost/beemesh/holder"
/** Where Debian's `catatonit` package puts its static binary. */
const DEFAULT_CATATONIT = "/usr/bin/catatonit"

const CONTAINERFILE = `FROM scratch
COPY catatonit /catatonit
ENTRYPOINT ["/catatonit", "-P"]
`

const PT_INTERP = 3

/**
 * Why an ELF file cannot run in an empty image (not ELF, not 64-bit, or asks for a dynamic loader),
 * or undefined when it can.
 */
const staticElfProblem = (bytes: Uint8Array): string | undefined => {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.length < 64 || view.readUInt32BE(0) !== 0x7f454c46) return "it is not an ELF binary"
  if (view[4] !== 2 || view[5] !== 1) return "it is not a 64-bit little-endian ELF binary"
  const phoff = Number(view.readBigUInt64LE(0x20))
  const phentsize = view.readUInt16LE(0x36)
  const phnum = view.readUInt16LE(0x38)
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize
    if (at + 4 > view.length) return "its program headers are truncated"
    if (view.readUInt32LE(at) === PT_INTERP) {
      return "it is dynamically linked (it names a program interpreter)"
    }
  }
  return undefined
}

const unavailable = (catatonit: string) => (reason: string) =>
  new HolderImageUnavailable({ catatonit, reason })

/** The holder image's tag in this Podman's store, built first when missing. */
export const ensureHolderImage = (catatonit: string = DEFAULT_CATATONIT) =>
  ensure(catatonit).pipe(Effect.scoped, Effect.withSpan("HolderImage.ensure"))

const ensure = Effect.fnUntraced(function* (catatonit: string) {
  const client = yield* PodmanClient
  const bytes = yield* Effect.tryPromise({
    try: () => readFile(catatonit),
    catch: (e) => unavailable(catatonit)(`cannot read it (${(e as Error).message})`),
  })
  const problem = staticElfProblem(bytes)
  if (problem !== undefined) return yield* unavailable(catatonit)(problem)
  const hash = createHash("sha256").update(CONTAINERFILE).update(bytes).digest("hex").slice(0, 12)
  const tag = `${HOLDER_IMAGE_REPOSITORY}:${hash}`
  if (yield* client.images.exists(tag)) return tag
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "beemesh-holder-"))),
    (d) => Effect.promise(() => rm(d, { recursive: true, force: true })),
  )
  yield* Effect.promise(async () => {
    await copyFile(catatonit, join(dir, "catatonit"))
    await writeFile(join(dir, "Containerfile"), CONTAINERFILE)
  })
  yield* client.images.build({ contextDir: dir, tag, labels: { "io.beemesh.image": "holder" } })
  return tag
})
