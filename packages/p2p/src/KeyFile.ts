import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys"
import type { PrivateKey } from "@libp2p/interface"
import { Effect } from "effect"
import { KeyFileError } from "./Errors.js"

const errorCode = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined

const decodeKey = (path: string, bytes: Uint8Array): PrivateKey => {
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (error) {
    throw new KeyFileError({ path, reason: `does not hold a libp2p private key: ${String(error)}` })
  }
}

const readKey = async (path: string): Promise<PrivateKey> => {
  const info = await stat(path)
  if (!info.isFile()) throw new KeyFileError({ path, reason: "is not a regular file" })
  if ((info.mode & 0o077) !== 0) {
    throw new KeyFileError({
      path,
      reason: `is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 ${path}`,
    })
  }
  return decodeKey(path, await readFile(path))
}

const createKey = async (path: string): Promise<PrivateKey> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const key = await generateKeyPair("Ed25519")
  // "wx": never overwrite an identity that appeared meanwhile (two starts racing).
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" })
  await chmod(path, 0o600) // the umask may have narrowed it further, never widened: make it exact
  return key
}

const loadOrCreate = async (path: string): Promise<PrivateKey> => {
  try {
    return await readKey(path)
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error
  }
  try {
    return await createKey(path)
  } catch (error) {
    if (errorCode(error) === "EEXIST") return readKey(path)
    throw error
  }
}

const asKeyFileError = (path: string) => (error: unknown) =>
  error instanceof KeyFileError
    ? error
    : new KeyFileError({ path, reason: error instanceof Error ? error.message : String(error) })

/**
 * The node's persistent identity: read from `path` (protobuf-encoded libp2p private key), or
 * created there as a new Ed25519 key with mode 0600. A key file readable by others is refused.
 */
export const loadOrCreateKey = (path: string): Effect.Effect<PrivateKey, KeyFileError> =>
  Effect.tryPromise({
    try: () => loadOrCreate(path),
    catch: asKeyFileError(path),
  })

/**
 * A key another process wrote for this one (a sidecar's workload identity, mounted by the agent):
 * read as it is, never created, whatever its mode.
 */
export const loadKey = (path: string): Effect.Effect<PrivateKey, KeyFileError> =>
  Effect.tryPromise({
    try: async () => decodeKey(path, new Uint8Array(await readFile(path))),
    catch: asKeyFileError(path),
  })
