/**
 * Bearer tokens of the agent's HTTP API.
 *
 * - The operator token guards the workload endpoints. It is created at first start in the data
 *   directory (mode 0600) and read by the operator from there.
 * - A pod token guards the sidecar endpoints. It names the pod and its workload and is signed with
 *   the agent's pod-token key (HMAC-SHA256), so the agent can check it without keeping state and
 *   still recognises its pods after a restart. A pod token lets a sidecar register only the
 *   services of its own workload.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Data, Effect } from "effect"

export class TokenFileError extends Data.TaggedError("TokenFileError")<{
  readonly path: string
  readonly reason: string
}> {
  override get message() {
    return `token file ${this.path}: ${this.reason}`
  }
}

export interface PodIdentity {
  readonly namespace: string
  readonly workload: string
  readonly pod: string
}

const TOKEN_BYTES = 32

/** Reads a secret file, creating it with fresh random bytes (mode 0600) when it does not exist. */
export const loadOrCreateSecret = Effect.fn("Tokens.loadOrCreateSecret")(function* (path: string) {
  const existing = yield* Effect.tryPromise({
    try: async () => {
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "ENOENT") return undefined
        throw error
      })
      if (info === undefined) return undefined
      if ((info.mode & 0o077) !== 0) {
        throw new Error(
          `mode is ${(info.mode & 0o777).toString(8)}; it must be readable by its owner only (chmod 600 ${path})`,
        )
      }
      return (await readFile(path, "utf8")).trim()
    },
    catch: (error) => new TokenFileError({ path, reason: (error as Error).message }),
  })
  if (existing !== undefined) {
    if (existing.length < 32) {
      return yield* new TokenFileError({
        path,
        reason: "is too short to be a secret; delete it to have a new one made",
      })
    }
    return existing
  }
  const secret = randomBytes(TOKEN_BYTES).toString("base64url")
  yield* Effect.tryPromise({
    try: async () => {
      await mkdir(join(path, ".."), { recursive: true, mode: 0o700 })
      await writeFile(path, `${secret}\n`, { mode: 0o600, flag: "wx" })
      await chmod(path, 0o600)
    },
    catch: (error) =>
      new TokenFileError({ path, reason: `cannot create: ${(error as Error).message}` }),
  })
  return secret
})

/** Compares two strings in time independent of where they differ. */
export const constantTimeEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

const sign = (key: string, payload: string) =>
  createHmac("sha256", key).update(payload).digest("base64url")

/** `<base64url(JSON identity)>.<HMAC>` — opaque to the sidecar. */
export const issuePodToken = (key: string, identity: PodIdentity): string => {
  const payload = Buffer.from(
    JSON.stringify([identity.namespace, identity.workload, identity.pod]),
  ).toString("base64url")
  return `${payload}.${sign(key, payload)}`
}

/** The identity a pod token was issued for, or undefined when it is not one of ours. */
export const verifyPodToken = (key: string, token: string): PodIdentity | undefined => {
  const [payload, signature, extra] = token.split(".")
  if (payload === undefined || signature === undefined || extra !== undefined) return undefined
  if (!constantTimeEqual(sign(key, payload), signature)) return undefined
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    if (
      !Array.isArray(parsed) ||
      parsed.length !== 3 ||
      !parsed.every((x) => typeof x === "string")
    ) {
      return undefined
    }
    const [namespace, workload, pod] = parsed as [string, string, string]
    return { namespace, workload, pod }
  } catch {
    return undefined
  }
}
