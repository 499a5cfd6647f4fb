/**
 * Bearer tokens of the agent's HTTP API.
 *
 * - The operator token guards the workload endpoints. It is created at first start in the data
 *   directory (mode 0600) and read by the operator from there.
 * - A pod token guards the sidecar endpoints. It names the pod, its workload and the pod's
 *   generation, and is signed with the agent's pod-token key (HMAC-SHA256). The signature proves
 *   the agent issued it; the generation binds it to one creation of the pod: a random nonce drawn
 *   each time the pod is created, kept with the replica and in the pod's labels (so a restarted
 *   agent reads it back from the pods it adopts). The API accepts a pod token only while the agent
 *   runs that replica at that generation, so a deleted or recreated pod's token is refused even
 *   though the new pod has the same name. A pod token lets a sidecar register only the services of
 *   its own workload.
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

/** A pod token's claims: whose it is, and which creation of that pod it was issued to. */
export interface PodCredential {
  readonly identity: PodIdentity
  /**
   * The pod's generation (see newGeneration); "" for a token from before generations, which only a
   * pod from before generations (one without a generation label) matches.
   */
  readonly generation: string
}

const GENERATION_BYTES = 16

/** A fresh generation for a pod being created: unguessable, never reused. */
export const newGeneration = (): string => randomBytes(GENERATION_BYTES).toString("base64url")

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
  // Hex, not base64url: an operator passes this on command lines (`--token <secret>`), where a
  // secret starting with "-" (1 in 64 base64url ones) reads as an option and is refused.
  const secret = randomBytes(TOKEN_BYTES).toString("hex")
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

/**
 * `<base64url(JSON [namespace, workload, pod, generation])>.<HMAC>` — opaque to the sidecar.
 * Without a generation it is the format of tokens from before generations.
 */
export const issuePodToken = (key: string, identity: PodIdentity, generation = ""): string => {
  const claims = [identity.namespace, identity.workload, identity.pod]
  const payload = Buffer.from(
    JSON.stringify(generation === "" ? claims : [...claims, generation]),
  ).toString("base64url")
  return `${payload}.${sign(key, payload)}`
}

/** The claims of a pod token this agent signed, or undefined when it is not one of ours. */
export const verifyPodCredential = (key: string, token: string): PodCredential | undefined => {
  const [payload, signature, extra] = token.split(".")
  if (payload === undefined || signature === undefined || extra !== undefined) return undefined
  if (!constantTimeEqual(sign(key, payload), signature)) return undefined
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
    if (
      !Array.isArray(parsed) ||
      (parsed.length !== 3 && parsed.length !== 4) ||
      !parsed.every((x) => typeof x === "string")
    ) {
      return undefined
    }
    const [namespace, workload, pod, generation = ""] = parsed as Array<string>
    if (namespace === undefined || workload === undefined || pod === undefined) return undefined
    return { identity: { namespace, workload, pod }, generation }
  } catch {
    return undefined
  }
}

/** The identity a pod token was issued for, or undefined when it is not one of ours. */
export const verifyPodToken = (key: string, token: string): PodIdentity | undefined =>
  verifyPodCredential(key, token)?.identity
