/** The command line: the command word, then the global options and that command's own. */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util"
import { Effect } from "effect"
import { UsageError } from "./Errors"
import { COMMAND_HELP } from "./Help"

const GLOBAL: ParseArgsOptionsConfig = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  context: { type: "string" },
  server: { type: "string" },
  token: { type: "string" },
}

const OUTPUT: ParseArgsOptionsConfig = { output: { type: "string", short: "o" } }
const NAMESPACE: ParseArgsOptionsConfig = { namespace: { type: "string", short: "n" } }
const FILES: ParseArgsOptionsConfig = { filename: { type: "string", short: "f", multiple: true } }

const OPTIONS: Readonly<Record<string, ParseArgsOptionsConfig>> = {
  apply: { ...FILES, timeout: { type: "string" }, "no-wait": { type: "boolean" } },
  get: { ...OUTPUT, ...NAMESPACE },
  describe: { ...OUTPUT, ...NAMESPACE },
  delete: { ...FILES, ...NAMESPACE },
  logs: {
    container: { type: "string", short: "c" },
    follow: { type: "boolean", short: "f" },
    tail: { type: "string" },
  },
  context: { ...OUTPUT, "token-file": { type: "string" } },
  top: { ...OUTPUT, ...NAMESPACE },
}

export interface Invocation {
  readonly command: string | undefined
  readonly positionals: ReadonlyArray<string>
  readonly values: Readonly<Record<string, string | boolean | ReadonlyArray<string> | undefined>>
}

export const parseInvocation = (
  argv: ReadonlyArray<string>,
): Effect.Effect<Invocation, UsageError> =>
  Effect.gen(function* () {
    const command = argv.find((a) => !a.startsWith("-"))
    if (command !== undefined && OPTIONS[command] === undefined) {
      return yield* new UsageError({
        command: "",
        reason: `unknown command "${command}"; commands: ${Object.keys(OPTIONS).join(", ")}`,
      })
    }
    const parsed = yield* Effect.try({
      try: () =>
        parseArgs({
          args: [...argv],
          allowPositionals: true,
          strict: true,
          options: { ...GLOBAL, ...(command === undefined ? {} : OPTIONS[command]) },
        }),
      catch: (error) =>
        new UsageError({ command: command ?? "", reason: (error as Error).message }),
    })
    return {
      command,
      positionals: parsed.positionals.slice(1),
      values: parsed.values as Invocation["values"],
    } satisfies Invocation
  })

/** Helpers to read typed option values with a usage error that names the command. */
export const options = (invocation: Invocation) => {
  const command = invocation.command ?? ""
  const string = (name: string): string | undefined => {
    const v = invocation.values[name]
    return typeof v === "string" ? v : undefined
  }
  return {
    string,
    flag: (name: string) => invocation.values[name] === true,
    list: (name: string): ReadonlyArray<string> => {
      const v = invocation.values[name]
      return Array.isArray(v) ? v : []
    },
    output: (): Effect.Effect<"table" | "json" | "yaml", UsageError> => {
      const v = string("output") ?? "table"
      return v === "table" || v === "json" || v === "yaml"
        ? Effect.succeed(v)
        : Effect.fail(
            new UsageError({ command, reason: `-o must be table, json or yaml, not "${v}"` }),
          )
    },
    number: (name: string, fallback: number): Effect.Effect<number, UsageError> => {
      const v = string(name)
      if (v === undefined) return Effect.succeed(fallback)
      return /^\d+$/.test(v)
        ? Effect.succeed(Number(v))
        : Effect.fail(
            new UsageError({ command, reason: `--${name} must be a whole number, not "${v}"` }),
          )
    },
    usage: (reason: string) => new UsageError({ command, reason }),
    help: COMMAND_HELP[command],
  }
}
