/**
 * `beemesh-agent mesh …`: the operator's side of certified membership. `mesh init` makes the mesh
 * key and the authority key, `mesh certify` signs an agent's certificate with the authority key,
 * `mesh revoke` signs a revocation list. Each returns the text to print.
 */
import { randomUUID } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import {
  createMeshKeyFile,
  issueCertificate,
  issueRevocations,
  loadKey,
  loadOrCreateKey,
  MAX_CLOCK_SKEW_MS,
  peerIdOfKey,
  verifyRevocations,
} from "@beemesh/p2p"
import { Effect, Result } from "effect"
import { ConfigInvalid } from "./Config"

const DAY_MS = 24 * 60 * 60 * 1000

const authorityKeyOf = (path: string) =>
  loadKey(path).pipe(
    Effect.mapError(
      (error) =>
        new ConfigInvalid({
          source: "authority-key",
          reason: `${error.message} (mesh init writes the authority key)`,
        }),
    ),
  )

/** Writes `text` to `out` (mode 0644: certificates and lists are public), else returns it. */
const deliver = (text: string, out: string | undefined, what: string) =>
  out === undefined
    ? Effect.succeed(`${text}\n`)
    : Effect.tryPromise({
        try: () => writeFile(out, `${text}\n`, { mode: 0o644 }),
        catch: (error) =>
          new ConfigInvalid({
            source: "out",
            reason: `cannot write ${out}: ${(error as Error).message}`,
          }),
      }).pipe(Effect.as(`${what} written to ${out}\n`))

/** `mesh init`: the mesh key (never overwritten) and the authority key (kept when present). */
export const meshInit = (meshKeyPath: string, authorityKeyPath: string) =>
  Effect.gen(function* () {
    const key = yield* createMeshKeyFile(meshKeyPath)
    const authority = peerIdOfKey(yield* loadOrCreateKey(authorityKeyPath))
    return [
      `mesh key ${key.fingerprint} written to ${meshKeyPath} (mode 0600)`,
      `mesh authority ${authority}, its key in ${authorityKeyPath} (mode 0600; keep it off the hosts)`,
      "copy the mesh key to every agent; certify each agent with",
      `  beemesh-agent mesh certify --authority-key ${authorityKeyPath} --peer-id <agent peer id> --out agent.cert`,
      `and start each with --mesh-key FILE --mesh-authority ${authority} --certificate agent.cert`,
      "",
    ].join("\n")
  })

/** `mesh certify`: an agent certificate for `peerId`, valid `days` days from now. */
export const meshCertify = (
  authorityKeyPath: string,
  peerId: string,
  days: number,
  out: string | undefined,
  now: number = Date.now(),
) =>
  Effect.gen(function* () {
    const authority = yield* authorityKeyOf(authorityKeyPath)
    const certificate = yield* issueCertificate(authority, {
      role: "agent",
      subject: peerId,
      serial: randomUUID(),
      notBefore: now - MAX_CLOCK_SKEW_MS,
      notAfter: now + days * DAY_MS,
    }).pipe(
      Effect.mapError((error) => new ConfigInvalid({ source: "peer-id", reason: error.message })),
    )
    return yield* deliver(certificate, out, `certificate of ${peerId} for ${days} days`)
  })

/**
 * `mesh revoke`: a list naming `peerIds` and `serials`, plus everything the earlier `list` named
 * (it must be signed by the same authority), issued now: agents keep the newest list.
 */
export const meshRevoke = (
  authorityKeyPath: string,
  peerIds: ReadonlyArray<string>,
  serials: ReadonlyArray<string>,
  list: string | undefined,
  out: string | undefined,
  now: number = Date.now(),
) =>
  Effect.gen(function* () {
    const authority = yield* authorityKeyOf(authorityKeyPath)
    const earlier =
      list === undefined
        ? undefined
        : yield* Effect.tryPromise({
            try: () => readFile(list, "utf8"),
            catch: (error) =>
              new ConfigInvalid({
                source: "list",
                reason: `cannot read ${list}: ${(error as Error).message}`,
              }),
          }).pipe(
            Effect.flatMap((text) =>
              Effect.promise(() => verifyRevocations(text.trim(), peerIdOfKey(authority))),
            ),
            Effect.flatMap((opened) =>
              Result.isSuccess(opened)
                ? Effect.succeed(opened.success)
                : Effect.fail(
                    new ConfigInvalid({ source: "list", reason: opened.failure.message }),
                  ),
            ),
          )
    const text = yield* issueRevocations(authority, {
      issuedAt: Math.max(now, (earlier?.issuedAt ?? 0) + 1),
      subjects: [...new Set([...(earlier?.subjects ?? []), ...peerIds])],
      serials: [...new Set([...(earlier?.serials ?? []), ...serials])],
    }).pipe(
      Effect.mapError((error) => new ConfigInvalid({ source: "list", reason: error.message })),
    )
    return yield* deliver(text, out, "revocation list")
  })
