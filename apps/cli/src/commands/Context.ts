/** `beemesh context set|use|show`: the named agents in the context file. */
import { readFile } from "node:fs/promises"
import { Effect } from "effect"
import { type Invocation, options } from "../Cli"
import { type ContextFile, loadContexts, saveContexts } from "../Contexts"
import { InputError } from "../Errors"
import type { Io } from "../Io"
import { renderData, renderTable } from "../Output"

const masked = (token: string) =>
  token.length <= 8 ? "****" : `${token.slice(0, 4)}…${token.slice(-2)}`

export const context = (invocation: Invocation, path: string, io: Io) =>
  Effect.gen(function* () {
    const o = options(invocation)
    const [verb, name, extra] = invocation.positionals
    if (extra !== undefined) return yield* o.usage(`unexpected argument "${extra}"`)
    const file = yield* loadContexts(path)
    switch (verb) {
      case "set": {
        if (name === undefined) return yield* o.usage("context set needs a NAME")
        const existing = file.contexts[name]
        const server = o.string("server") ?? existing?.server
        if (server === undefined) return yield* o.usage(`context set ${name} needs --server URL`)
        if (!/^https?:\/\/[^/]+/.test(server)) {
          return yield* o.usage(
            `--server must be an http(s) URL like http://127.0.0.1:8080, not "${server}"`,
          )
        }
        const tokenFile = o.string("token-file")
        const token =
          o.string("token") ??
          (tokenFile === undefined
            ? existing?.token
            : (yield* Effect.tryPromise({
                try: () => readFile(tokenFile, "utf8"),
                catch: (error) =>
                  new InputError({ source: tokenFile, reason: (error as Error).message }),
              })).trim())
        if (token === undefined || token === "") {
          return yield* o.usage(
            `context set ${name} needs --token TOKEN or --token-file PATH (the agent's operator-token file)`,
          )
        }
        const next: ContextFile = {
          current: file.current ?? name,
          contexts: { ...file.contexts, [name]: { server, token } },
        }
        yield* saveContexts(path, next)
        io.out(`context ${name} saved in ${path}${next.current === name ? " (current)" : ""}\n`)
        return 0
      }
      case "use": {
        if (name === undefined) return yield* o.usage("context use needs a NAME")
        if (file.contexts[name] === undefined) {
          return yield* o.usage(
            `no context "${name}" in ${path}; known: ${Object.keys(file.contexts).join(", ") || "none"}`,
          )
        }
        yield* saveContexts(path, { ...file, current: name })
        io.out(`now using context ${name}\n`)
        return 0
      }
      case "show":
      case undefined: {
        const format = yield* o.output()
        const view = {
          file: path,
          current: file.current ?? null,
          contexts: Object.fromEntries(
            Object.entries(file.contexts).map(([n, c]) => [
              n,
              { server: c.server, token: masked(c.token) },
            ]),
          ),
        }
        if (format !== "table") io.out(renderData(format, view))
        else
          io.out(
            `${path}\n${renderTable(
              ["CURRENT", "NAME", "SERVER", "TOKEN"],
              Object.entries(file.contexts).map(([n, c]) => [
                n === file.current ? "*" : "",
                n,
                c.server,
                masked(c.token),
              ]),
            )}`,
          )
        return 0
      }
      default:
        return yield* o.usage(`unknown context command "${verb}"; use set, use or show`)
    }
  })
