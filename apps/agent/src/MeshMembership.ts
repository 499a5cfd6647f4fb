/**
 * Which mesh key and which membership the agent runs with: the ones it is given, else its own. The
 * key makes the mesh a closed network (libp2p pnet); the authority certifies who belongs to it, and
 * every connection of the host node and of the sidecars must prove it.
 */
import { randomUUID } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import {
  issueCertificate,
  loadMeshKeyFile,
  loadOrCreateKey,
  loadOrCreateMeshKeyFile,
  MAX_CLOCK_SKEW_MS,
  peerIdOfKey,
  RevocationList,
  verifyChain,
} from "@beemesh/p2p"
import { Effect, Result } from "effect"
import {
  type AgentConfig,
  ConfigInvalid,
  defaultAuthorityKeyFile,
  defaultMeshKeyFile,
} from "./Config"

/**
 * The mesh key: the given file (it must exist: a typo must not start a mesh of one), else the
 * agent's own, created at first start. Joining other agents without a given key is refused: a key
 * of its own would never match theirs.
 */
export const agentMeshKey = (
  config: Pick<AgentConfig, "meshKeyFile" | "bootstrap" | "relays" | "dataDir">,
) =>
  Effect.gen(function* () {
    if (config.meshKeyFile !== undefined) {
      const key = yield* loadMeshKeyFile(config.meshKeyFile)
      yield* Effect.logInfo(`mesh key ${key.fingerprint} from ${config.meshKeyFile}`)
      return key
    }
    if (config.bootstrap.length > 0 || (config.relays ?? []).length > 0)
      return yield* new ConfigInvalid({
        source: "meshKey",
        reason:
          "joining other agents (bootstrap or relays) needs the mesh key they share: create it once with `beemesh-agent mesh init`, copy the file to every host (mode 0600) and give it with --mesh-key FILE",
      })
    const path = defaultMeshKeyFile(config.dataDir)
    const key = yield* loadOrCreateMeshKeyFile(path)
    yield* Effect.logInfo(
      `mesh key ${key.fingerprint} from ${path} (this host's own; agents joining it need a copy, given with --mesh-key)`,
    )
    return key
  })

/** A libp2p private key (the agent takes @libp2p's types through @beemesh/p2p). */
export type PrivateKey = Parameters<typeof peerIdOfKey>[0]

/** An agent certifies itself for a year when it is its own authority (re-issued at every start). */
const SELF_CERTIFICATE_DAYS = 365
const DAY_MS = 24 * 60 * 60 * 1000

/** The mesh authority the agent runs under and its own membership certificate. */
export interface AgentMembership {
  /** The authority's peer id: every peer's chain must start with a certificate it signed. */
  readonly authority: string
  /** This agent's certificate, `[agent]` as its chain and the first link of its sidecars'. */
  readonly certificate: string
}

/**
 * The given authority and certificate (checked against this agent's identity now: a wrong or
 * expired one is refused before anything listens), else the agent's own authority
 * (`<dataDir>/mesh-authority.key`, created at first start) certifying this agent: a mesh of this
 * host alone. Joining other agents without a certificate is refused: they would drop every
 * connection after the membership bound.
 */
export const agentMembership = (
  config: Pick<
    AgentConfig,
    "meshAuthority" | "certificateFile" | "bootstrap" | "relays" | "dataDir"
  >,
  identity: PrivateKey,
  now: number = Date.now(),
) =>
  Effect.gen(function* () {
    const self = peerIdOfKey(identity)
    if (config.meshAuthority !== undefined || config.certificateFile !== undefined) {
      if (config.meshAuthority === undefined || config.certificateFile === undefined)
        return yield* new ConfigInvalid({
          source: config.meshAuthority === undefined ? "meshAuthority" : "certificate",
          reason:
            "--mesh-authority and --certificate go together: the authority's peer id and this agent's certificate signed by it (`beemesh-agent mesh certify`)",
        })
      const path = config.certificateFile
      const certificate = yield* Effect.tryPromise({
        try: () => readFile(path, "utf8"),
        catch: (error) =>
          new ConfigInvalid({
            source: "certificate",
            reason: `cannot read ${path}: ${(error as Error).message}`,
          }),
      }).pipe(Effect.map((text) => text.trim()))
      const verified = yield* Effect.promise(() =>
        verifyChain([certificate], { authority: config.meshAuthority ?? "", peer: self, now }),
      )
      if (Result.isFailure(verified))
        return yield* new ConfigInvalid({
          source: "certificate",
          reason: `${path} does not certify this agent (${self}) under ${config.meshAuthority}: ${verified.failure.message}; issue one with \`beemesh-agent mesh certify --authority-key FILE --peer-id ${self}\``,
        })
      yield* Effect.logInfo(
        `member of the mesh of authority ${config.meshAuthority} until ${new Date(verified.success.expiresAt).toISOString()}`,
      )
      return { authority: config.meshAuthority, certificate } satisfies AgentMembership
    }
    if (config.bootstrap.length > 0 || (config.relays ?? []).length > 0)
      return yield* new ConfigInvalid({
        source: "certificate",
        reason: `joining other agents (bootstrap or relays) needs a membership certificate from their mesh authority: run \`beemesh-agent mesh certify --authority-key FILE --peer-id ${self}\` where the authority key is kept, and give --mesh-authority PEERID --certificate FILE`,
      })
    const path = defaultAuthorityKeyFile(config.dataDir)
    const authorityKey = yield* loadOrCreateKey(path)
    const certificate = yield* issueCertificate(authorityKey, {
      role: "agent",
      subject: self,
      serial: randomUUID(),
      notBefore: now - MAX_CLOCK_SKEW_MS,
      notAfter: now + SELF_CERTIFICATE_DAYS * DAY_MS,
    })
    const authority = peerIdOfKey(authorityKey)
    yield* Effect.logInfo(
      `mesh authority ${authority} from ${path} (this host's own; it certified this agent)`,
    )
    return { authority, certificate } satisfies AgentMembership
  })

/** Where the agent keeps the newest revocation list it adopted. */
export const revocationsFileOf = (dataDir: string) => `${dataDir}/mesh-revocations`

/**
 * The revocation list: the newest of the one kept in the data directory and `--revocations FILE`
 * (a bad given file stops the start); every newer list adopted later is kept there too.
 */
export const meshRevocations = (
  config: Pick<AgentConfig, "dataDir" | "revocationsFile">,
  authority: string,
) =>
  Effect.gen(function* () {
    const list = new RevocationList(authority)
    const kept = revocationsFileOf(config.dataDir)
    const keptText = yield* Effect.promise(() => readFile(kept, "utf8").catch(() => undefined))
    if (keptText !== undefined) yield* Effect.promise(() => list.offer(keptText))
    if (config.revocationsFile !== undefined) {
      const path = config.revocationsFile
      const text = yield* Effect.tryPromise({
        try: () => readFile(path, "utf8"),
        catch: (error) =>
          new ConfigInvalid({
            source: "revocations",
            reason: `cannot read ${path}: ${(error as Error).message}`,
          }),
      })
      const offered = yield* Effect.promise(() => list.offer(text))
      if (Result.isFailure(offered))
        return yield* new ConfigInvalid({
          source: "revocations",
          reason: `${path}: ${offered.failure.message} (sign it with beemesh-agent mesh revoke)`,
        })
    }
    list.onAdopted((text) => {
      void writeFile(kept, `${text}\n`, { mode: 0o600 }).catch(() => {})
    })
    if (list.issuedAt() !== undefined) {
      const current = list.current() ?? ""
      yield* Effect.promise(() => writeFile(kept, `${current}\n`, { mode: 0o600 }))
      yield* Effect.logInfo(
        `revocation list of ${new Date(list.issuedAt() ?? 0).toISOString()}: ${list.revoked().subjects.size} peers, ${list.revoked().serials.size} certificates revoked`,
      )
    }
    return list
  })
