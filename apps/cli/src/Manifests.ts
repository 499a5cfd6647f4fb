/**
 * The manifests of `apply -f` / `delete -f`: files, directories (their .yaml, .yml and .json files
 * in name order, not recursive) and `-` for stdin, joined into one multi-document YAML stream
 * (JSON is YAML), which the agent applies at once.
 */
import { readdir, readFile, stat } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { parseAllDocuments } from "yaml"
import { InputError } from "./Errors"

const MANIFEST = /\.(ya?ml|json)$/

export const readManifests = (
  sources: ReadonlyArray<string>,
  readStdin: () => Promise<string>,
): Effect.Effect<string, InputError> =>
  Effect.forEach(sources, (source) =>
    Effect.tryPromise({
      try: async (): Promise<ReadonlyArray<string>> => {
        if (source === "-") return [await readStdin()]
        const info = await stat(source)
        if (!info.isDirectory()) return [await readFile(source, "utf8")]
        const names = (await readdir(source)).filter((n) => MANIFEST.test(n)).sort()
        if (names.length === 0) throw new Error("no .yaml, .yml or .json files in this directory")
        return Promise.all(names.map((n) => readFile(join(source, n), "utf8")))
      },
      catch: (error) =>
        new InputError({
          source: source === "-" ? "stdin" : source,
          reason: (error as Error).message,
        }),
    }),
  ).pipe(
    Effect.map((texts) =>
      texts
        .flat()
        .map((t) => t.trim())
        .filter((t) => t !== "")
        .join("\n---\n"),
    ),
    Effect.filterOrFail(
      (text) => text !== "",
      () => new InputError({ source: sources.join(", "), reason: "no manifests (empty input)" }),
    ),
  )

/** namespace/name of each workload document (for `delete -f`). */
export const workloadNames = (text: string): Effect.Effect<ReadonlyArray<string>, InputError> =>
  Effect.try({
    try: () =>
      parseAllDocuments(text)
        .map((doc) => doc.toJS() as { metadata?: { name?: string; namespace?: string } } | null)
        .filter((doc) => doc !== null)
        .map((doc) => {
          const name = doc.metadata?.name
          if (name === undefined) throw new Error("a document has no metadata.name")
          return `${doc.metadata?.namespace ?? "default"}/${name}`
        }),
    catch: (error) => new InputError({ source: "manifests", reason: (error as Error).message }),
  })
