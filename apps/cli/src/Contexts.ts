/**
 * The context file, like a kubeconfig: named agents (URL and operator token) and the current one,
 * in `$XDG_CONFIG_HOME/beemesh/config.yaml` (default `~/.config/beemesh/config.yaml`), mode 0600
 * since it holds tokens. `resolveTarget` picks the agent: flags, then BEEMESH_* variables, then the
 * context, then the local agent's defaults.
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { Effect, Schema } from "effect"
import { parse, stringify } from "yaml"
import { ContextError } from "./Errors"

export const AgentContext = Schema.Struct({ server: Schema.String, token: Schema.String })
export type AgentContext = typeof AgentContext.Type

export const ContextFile = Schema.Struct({
  current: Schema.optional(Schema.String),
  contexts: Schema.Record(Schema.String, AgentContext),
})
export type ContextFile = typeof ContextFile.Type

export const DEFAULT_SERVER = "http://127.0.0.1:8080"
/** Where a root agent keeps its operator token by default. */
export const DEFAULT_TOKEN_FILE = "/var/lib/beemesh/operator-token"

export const contextFilePath = (env: Readonly<Record<string, string | undefined>>, home: string) =>
  join(env.XDG_CONFIG_HOME ?? join(home, ".config"), "beemesh", "config.yaml")

export const loadContexts = (path: string): Effect.Effect<ContextFile, ContextError> =>
  Effect.gen(function* () {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (error) => error as NodeJS.ErrnoException,
    }).pipe(
      Effect.catch((error) =>
        error.code === "ENOENT"
          ? Effect.succeed("")
          : Effect.fail(new ContextError({ path, reason: `cannot read: ${error.message}` })),
      ),
    )
    if (text.trim() === "") return { contexts: {} }
    const value = yield* Effect.try({
      try: (): unknown => parse(text),
      catch: (error) => new ContextError({ path, reason: `not YAML: ${(error as Error).message}` }),
    })
    return yield* Schema.decodeUnknownEffect(ContextFile)(value).pipe(
      Effect.mapError(
        (error) =>
          new ContextError({
            path,
            reason: `${error.message} (expected current: NAME and contexts: {NAME: {server, token}})`,
          }),
      ),
    )
  })

/** Writes the file atomically with mode 0600 (it holds tokens), its directory 0700. */
export const saveContexts = (path: string, file: ContextFile): Effect.Effect<void, ContextError> =>
  Effect.tryPromise({
    try: async () => {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 })
      const temporary = `${path}.${process.pid}.tmp`
      await writeFile(temporary, stringify(file), { mode: 0o600 })
      await chmod(temporary, 0o600)
      await rename(temporary, path)
    },
    catch: (error) =>
      new ContextError({ path, reason: `cannot write: ${(error as Error).message}` }),
  })

export interface TargetSources {
  readonly flags: {
    readonly context?: string | undefined
    readonly server?: string | undefined
    readonly token?: string | undefined
  }
  readonly env: Readonly<Record<string, string | undefined>>
  readonly file: ContextFile
  readonly path: string
  readonly readDefaultToken: () => Promise<string | undefined>
}

/** The agent to talk to, and where its URL and token came from (for error messages). */
export interface Target {
  readonly server: string
  readonly token: string | undefined
  readonly serverOrigin: string
  readonly tokenOrigin: string
}

export const resolveTarget = (sources: TargetSources): Effect.Effect<Target, ContextError> =>
  Effect.gen(function* () {
    const { flags, env, file, path } = sources
    const contextName = flags.context ?? env.BEEMESH_CONTEXT ?? file.current
    const context = contextName === undefined ? undefined : file.contexts[contextName]
    if (contextName !== undefined && context === undefined) {
      const known = Object.keys(file.contexts)
      return yield* new ContextError({
        path,
        reason: `no context "${contextName}"${known.length > 0 ? ` (known: ${known.join(", ")})` : ""}; create it with \`beemesh context set ${contextName} --server URL --token-file PATH\``,
      })
    }
    const inContext = `context "${contextName}" in ${path}`
    const [server, serverOrigin] =
      flags.server !== undefined
        ? [flags.server, "--server"]
        : env.BEEMESH_SERVER !== undefined
          ? [env.BEEMESH_SERVER, "BEEMESH_SERVER"]
          : context !== undefined
            ? [context.server, inContext]
            : [DEFAULT_SERVER, "the default; no context is set"]
    if (flags.token !== undefined)
      return { server, serverOrigin, token: flags.token, tokenOrigin: "--token" }
    if (env.BEEMESH_TOKEN !== undefined)
      return { server, serverOrigin, token: env.BEEMESH_TOKEN, tokenOrigin: "BEEMESH_TOKEN" }
    if (context !== undefined)
      return { server, serverOrigin, token: context.token, tokenOrigin: inContext }
    const token = yield* Effect.promise(sources.readDefaultToken)
    return {
      server,
      serverOrigin,
      token,
      tokenOrigin: token === undefined ? "nowhere (no context, no --token)" : DEFAULT_TOKEN_FILE,
    }
  })
