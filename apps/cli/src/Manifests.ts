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

/** What `delete -f` removes: a workload, or an object that is not one (the agent's configs route). */
export interface ManifestObject {
  readonly kind: string
  readonly namespace: string
  readonly name: string
}

/** Kinds the agent keeps under `/v1/configs/<path>`; every other kind is deleted as a workload. */
export const OBJECT_PATHS: Readonly<Record<string, string>> = {
  ConfigMap: "configmaps",
  Secret: "secrets",
  Service: "services",
}

/** The API path that deletes `object`. */
export const deletePath = (object: ManifestObject): string => {
  const where = `${encodeURIComponent(object.namespace)}/${encodeURIComponent(object.name)}`
  const path = Object.hasOwn(OBJECT_PATHS, object.kind) ? OBJECT_PATHS[object.kind] : undefined
  return path === undefined ? `/v1/workloads/${where}` : `/v1/configs/${path}/${where}`
}

/**
 * Kind, namespace and name of each document (for `delete -f`), in an order that deletes users
 * before what they use: workloads, then Services, then ConfigMaps and Secrets (the agent refuses
 * to delete one a workload still refers to).
 */
export const manifestObjects = (
  text: string,
): Effect.Effect<ReadonlyArray<ManifestObject>, InputError> =>
  Effect.try({
    try: () =>
      parseAllDocuments(text)
        .map(
          (doc) =>
            doc.toJS() as {
              kind?: unknown
              metadata?: { name?: string; namespace?: string }
            } | null,
        )
        .filter((doc) => doc !== null)
        .map((doc) => {
          const name = doc.metadata?.name
          if (name === undefined) throw new Error("a document has no metadata.name")
          const kind = typeof doc.kind === "string" ? doc.kind : "workload"
          return { kind, namespace: doc.metadata?.namespace ?? "default", name }
        })
        .map((object, index) => ({ object, index }))
        .sort((a, b) => rank(a.object) - rank(b.object) || a.index - b.index)
        .map(({ object }) => object),
    catch: (error) => new InputError({ source: "manifests", reason: (error as Error).message }),
  })

const rank = (object: ManifestObject) =>
  object.kind === "Service" ? 1 : Object.hasOwn(OBJECT_PATHS, object.kind) ? 2 : 0
