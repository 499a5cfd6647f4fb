/**
 * The mesh key: a 32-byte pre-shared key that every member of a mesh holds. Each node's TCP
 * connections are wrapped in libp2p's private network protector (XSalsa20 under this key) before
 * Noise starts, so a peer without the key never completes a handshake with any member.
 *
 * On disk it is libp2p's swarm key format (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits),
 * mode 0600; a file readable by group or others is refused.
 */
import { createHash, randomBytes } from "node:crypto"
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Data, Effect, Result } from "effect"

/** The key's length in bytes (XSalsa20). */
export const MESH_KEY_BYTES = 32

const HEADER = "/key/swarm/psk/1.0.0/"
const CODEC = "/base16/"
const HEX = /^[0-9a-f]{64}$/

/** A mesh key; `hex` is the secret, `fingerprint` names it in logs without revealing it. */
export class MeshKey extends Data.Class<{ readonly hex: string }> {
  /** The first 16 hex digits of the key's SHA-256: tells keys apart, reveals nothing usable. */
  get fingerprint(): string {
    return createHash("sha256").update(this.hex).digest("hex").slice(0, 16)
  }
  override toString(): string {
    return `MeshKey(${this.fingerprint})`
  }
  toJSON(): string {
    return this.toString()
  }
}

/** The key file cannot be read, created or parsed, or is readable by others. */
export class MeshKeyError extends Data.TaggedError("MeshKeyError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `mesh key file ${this.path}: ${this.reason}`
  }
}

/** A fresh random key. */
export const generateMeshKey = (): MeshKey =>
  new MeshKey({ hex: randomBytes(MESH_KEY_BYTES).toString("hex") })

/**
 * Reads a key from the swarm key format or from its 64 hex digits alone (as the agent hands it to
 * a sidecar); the error says what was expected.
 */
export const parseMeshKey = (text: string): Result.Result<MeshKey, string> => {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
  const hex =
    lines.length === 1
      ? lines[0]
      : lines.length === 3 && lines[0] === HEADER && lines[1] === CODEC
        ? lines[2]
        : undefined
  const normal = hex?.toLowerCase()
  return normal !== undefined && HEX.test(normal)
    ? Result.succeed(new MeshKey({ hex: normal }))
    : Result.fail(
        `expected a swarm key (${HEADER}, ${CODEC}, then ${MESH_KEY_BYTES * 2} hex digits, one per line) as written by "beemesh-agent mesh init"`,
      )
}

/** The key in the swarm key file format. */
export const formatMeshKey = (key: MeshKey): string => `${HEADER}\n${CODEC}\n${key.hex}\n`

/** The bytes `@libp2p/pnet`'s protector takes. */
export const swarmKeyBytes = (key: MeshKey): Uint8Array =>
  new TextEncoder().encode(formatMeshKey(key))

const errorCode = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined

const fail = (path: string, reason: string) => new MeshKeyError({ path, reason })

const read = async (path: string): Promise<MeshKey> => {
  const info = await stat(path)
  if (!info.isFile()) throw fail(path, "is not a regular file")
  if ((info.mode & 0o077) !== 0)
    throw fail(
      path,
      `is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    )
  const parsed = parseMeshKey(await readFile(path, "utf8"))
  if (Result.isFailure(parsed)) throw fail(path, parsed.failure)
  return parsed.success
}

const create = async (path: string): Promise<MeshKey> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const key = generateMeshKey()
  // "wx": never replace a key that exists (every member would be cut off).
  await writeFile(path, formatMeshKey(key), { mode: 0o600, flag: "wx" })
  await chmod(path, 0o600)
  return key
}

const asMeshKeyError = (path: string) => (error: unknown) =>
  error instanceof MeshKeyError
    ? error
    : errorCode(error) === "EEXIST"
      ? fail(
          path,
          "exists already; a mesh key is never overwritten (remove it first to replace it)",
        )
      : errorCode(error) === "ENOENT"
        ? fail(path, `does not exist; create one with "beemesh-agent mesh init --mesh-key ${path}"`)
        : fail(path, error instanceof Error ? error.message : String(error))

/** Reads a key file; refused when missing, malformed or readable by group or others. */
export const loadMeshKeyFile = (path: string): Effect.Effect<MeshKey, MeshKeyError> =>
  Effect.tryPromise({ try: () => read(path), catch: asMeshKeyError(path) })

/** Writes a new key file (mode 0600); refused when the file exists. */
export const createMeshKeyFile = (path: string): Effect.Effect<MeshKey, MeshKeyError> =>
  Effect.tryPromise({ try: () => create(path), catch: asMeshKeyError(path) })

/** Reads the key file, or creates it when missing. */
export const loadOrCreateMeshKeyFile = (path: string): Effect.Effect<MeshKey, MeshKeyError> =>
  Effect.tryPromise({
    try: async () => {
      try {
        return await read(path)
      } catch (error) {
        if (errorCode(error) !== "ENOENT") throw error
      }
      try {
        return await create(path)
      } catch (error) {
        if (errorCode(error) === "EEXIST") return read(path)
        throw error
      }
    },
    catch: asMeshKeyError(path),
  })
