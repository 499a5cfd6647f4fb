/**
 * A request body read as YAML (JSON is YAML) into its documents' values, within limits that keep
 * hostile input a 400: a bounded number of documents (read lazily, so a body of a million empty
 * documents is not composed), bounded alias expansion (an alias bomb is a few lines that expand to
 * billions of nodes), and nesting too deep to read refused instead of overflowing the stack.
 * Duplicate keys are found here in linear time: the library's own check (`uniqueKeys`) compares
 * every key with every earlier one, so a megabyte of keys would hold the agent for minutes.
 */
import {
  Composer,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Parser,
  type YAMLError,
} from "yaml"

export interface YamlLimits {
  /** Documents per request. */
  readonly maxDocuments: number
  /** Alias nodes a document may expand (the yaml library's `maxAliasCount`). */
  readonly maxAliasCount: number
}

export const defaultYamlLimits: YamlLimits = { maxDocuments: 32, maxAliasCount: 50 }

/** Why a body was refused, and in which document (0-based). */
export interface YamlProblem {
  readonly document: number
  readonly reason: string
}

const TOO_DEEP = "nested too deeply to be a manifest"

const located = (error: YAMLError, lines: LineCounter): string => {
  if (/call stack/i.test(error.message)) return TOO_DEEP
  const { line, col } = lines.linePos(error.pos[0])
  const first = error.message.split("\n")[0] ?? error.message
  return `not valid YAML or JSON: ${first.replace(/ at line \d+, column \d+.*$/, "")} (line ${line}, column ${col})`
}

/** The first key that is not a plain value or appears twice in its map, with its offset. */
const badKey = (
  root: unknown,
): { readonly reason: string; readonly offset: number } | undefined => {
  const pending: Array<unknown> = [root]
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (isSeq(node)) pending.push(...node.items)
    if (!isMap(node)) continue
    const seen = new Set<string>()
    for (const pair of node.items) {
      const key = pair.key as Node | null
      const offset = key?.range?.[0] ?? node.range?.[0] ?? 0
      if (!isScalar(key) || isAlias(key)) {
        return { reason: "a key that is not a plain string or number", offset }
      }
      const name = String(key.value)
      if (seen.has(name))
        return {
          reason: `the key ${JSON.stringify(name.slice(0, 60))} appears twice in one map`,
          offset,
        }
      seen.add(name)
      pending.push(pair.value)
    }
  }
  return undefined
}

/** The value of every document of `text`, or the first reason it cannot be read. */
export const readDocuments = (
  text: string,
  limits: YamlLimits = defaultYamlLimits,
): ReadonlyArray<unknown> | YamlProblem => {
  const lines = new LineCounter()
  const composer = new Composer({ uniqueKeys: false })
  const values: Array<unknown> = []
  let index = 0
  try {
    for (const document of composer.compose(new Parser(lines.addNewLine).parse(text))) {
      if (index >= limits.maxDocuments) {
        return {
          document: index,
          reason: `the body has more than ${limits.maxDocuments} documents; send at most ${limits.maxDocuments} per request`,
        }
      }
      const [error] = document.errors
      if (error !== undefined) return { document: index, reason: located(error, lines) }
      const key = badKey(document.contents)
      if (key !== undefined) {
        const { line, col } = lines.linePos(key.offset)
        return {
          document: index,
          reason: `not valid as a manifest: ${key.reason} (line ${line}, column ${col})`,
        }
      }
      values.push(document.toJS({ maxAliasCount: limits.maxAliasCount }))
      index++
    }
  } catch (error) {
    // The library throws (rather than reports) on these two; both are the body's fault.
    if (error instanceof RangeError) return { document: index, reason: TOO_DEEP }
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      return {
        document: index,
        reason: `YAML aliases expand to too many nodes (at most ${limits.maxAliasCount} alias expansions per document); write the values out or use fewer aliases`,
      }
    }
    throw error
  }
  return values
}
