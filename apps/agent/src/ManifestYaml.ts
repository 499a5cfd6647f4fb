/**
 * A request body read as YAML (JSON is YAML) into its documents' values, within limits that keep
 * hostile input a 400: a bounded number of documents (read lazily, so a body of a million empty
 * documents is not composed), bounded alias expansion (an alias bomb is a few lines that expand to
 * billions of nodes), and nesting too deep to read refused instead of overflowing the stack.
 * Duplicate keys are found here in linear time: the library's own check (`uniqueKeys`) compares
 * every key with every earlier one, so a megabyte of keys would hold the agent for minutes.
 * The library reads a few microseconds per byte, and deep nesting on one line far slower (nine
 * seconds for a megabyte of `[`): that nesting is refused by a scan of the text before parsing.
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
  type ScalarTag,
  type YAMLError,
} from "yaml"

/**
 * `0644` as an octal number, as kubectl reads it (YAML 1.1): file modes (`defaultMode`, `mode`) are
 * written so in every Kubernetes example, and YAML 1.2 would read 0400 as four hundred (0620).
 */
const LEGACY_OCTAL: ScalarTag = {
  identify: (value) => typeof value === "number",
  default: true,
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  test: /^0[0-7]+$/,
  resolve: (text) => Number.parseInt(text, 8),
}

export interface YamlLimits {
  /** Documents per request. */
  readonly maxDocuments: number
  /** Alias nodes a document may expand (the yaml library's `maxAliasCount`). */
  readonly maxAliasCount: number
  /** Collections nested in each other; also flow collections (`[`, `{`) or `- ` open on one line. */
  readonly maxDepth: number
}

export const defaultYamlLimits: YamlLimits = {
  maxDocuments: 32,
  maxAliasCount: 50,
  maxDepth: 32,
}

/** Why a body was refused, and in which document (0-based). */
export interface YamlProblem {
  readonly document: number
  readonly reason: string
}

const TOO_DEEP = "nested too deeply to be a manifest"
const tooDeep = (maxDepth: number) => `${TOO_DEEP}: more than ${maxDepth} levels`

const located = (error: YAMLError, lines: LineCounter, maxDepth: number): string => {
  if (/call stack/i.test(error.message)) return tooDeep(maxDepth)
  const { line, col } = lines.linePos(error.pos[0])
  const first = error.message.split("\n")[0] ?? error.message
  return `not valid YAML or JSON: ${first.replace(/ at line \d+, column \d+.*$/, "")} (line ${line}, column ${col})`
}

const OPENS_NODE = new Set(["[", "{", ",", ":", "-", "?", "\n"])

/**
 * The offset where more than `max` flow collections (or `- ` sequences on one line) are open,
 * found without parsing: a bracket
 * counts where a node may start (after a line start or an indicator), never inside quotes or
 * comments, so `foo[1]` in a plain scalar does not. Undercounting only leaves it to the parser.
 */
const flowTooDeep = (text: string, max: number): number | undefined => {
  let depth = 0
  let quote: string | undefined
  let previous = "\n"
  let dashes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quote !== undefined) {
      if (c === "\\" && quote === '"') i++
      else if (c === quote) quote = undefined
      continue
    }
    if (c === " " || c === "\t" || c === "\r") continue
    if (c === "#" && /[\s]/.test(text[i - 1] ?? "\n")) {
      const end = text.indexOf("\n", i)
      i = end < 0 ? text.length : end - 1
      continue
    }
    // A bracket or dash that does not open a node (as in `foo[1]`) is text, like a letter.
    let opens = true
    if (c === "[" || c === "{") {
      opens = OPENS_NODE.has(previous)
      if (opens && ++depth > max) return i
    } else if (c === "-") {
      // `- - - …` on one line: each dash opens a nested block sequence.
      opens = (previous === "\n" || previous === "-") && /[ \t]/.test(text[i + 1] ?? "")
      if (opens && ++dashes > max) return i
    } else if (c === "\n") dashes = 0
    else if ((c === "]" || c === "}") && depth > 0) depth--
    else if ((c === '"' || c === "'") && OPENS_NODE.has(previous)) quote = c
    previous = opens ? c : "x"
  }
  return undefined
}

/**
 * The first node nested deeper than `maxDepth`, or key that is not a plain value or appears twice
 * in its map, with its offset. Iterative, so that the answer does not depend on the stack left.
 */
const badNode = (
  root: unknown,
  maxDepth: number,
): { readonly reason: string; readonly offset: number } | undefined => {
  const pending: Array<readonly [unknown, number]> = [[root, 0]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next
    if (!isSeq(node) && !isMap(node)) continue
    if (depth >= maxDepth) {
      return {
        reason: tooDeep(maxDepth),
        offset: node.range?.[0] ?? 0,
      }
    }
    // One at a time: spreading a list of a million items overflows the call stack.
    if (isSeq(node)) for (const item of node.items) pending.push([item, depth + 1])
    if (!isMap(node)) continue
    const seen = new Set<string>()
    for (const pair of node.items) {
      const key = pair.key as Node | null
      const offset = key?.range?.[0] ?? node.range?.[0] ?? 0
      if (!isScalar(key) || isAlias(key)) {
        return {
          reason: "not valid as a manifest: a key that is not a plain string or number",
          offset,
        }
      }
      const name = String(key.value)
      if (seen.has(name))
        return {
          reason: `not valid as a manifest: the key ${JSON.stringify(name.slice(0, 60))} appears twice in one map`,
          offset,
        }
      seen.add(name)
      pending.push([pair.value, depth + 1])
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
  const deep = flowTooDeep(text, limits.maxDepth)
  if (deep !== undefined) {
    const before = text.slice(0, deep)
    const line = before.split("\n").length
    const markers = before.match(/^---/gm)?.length ?? 0
    return {
      document: Math.max(0, markers - (text.startsWith("---") ? 1 : 0)),
      reason: `${TOO_DEEP}: more than ${limits.maxDepth} [, { or - open at once (line ${line})`,
    }
  }
  const composer = new Composer({
    uniqueKeys: false,
    customTags: (tags) => [LEGACY_OCTAL, ...tags],
  })
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
      if (error !== undefined)
        return { document: index, reason: located(error, lines, limits.maxDepth) }
      const bad = badNode(document.contents, limits.maxDepth)
      if (bad !== undefined) {
        const { line, col } = lines.linePos(bad.offset)
        return { document: index, reason: `${bad.reason} (line ${line}, column ${col})` }
      }
      values.push(document.toJS({ maxAliasCount: limits.maxAliasCount }))
      index++
    }
  } catch (error) {
    // The library throws (rather than reports) on these two; both are the body's fault.
    // The parser gave out before `badNode` could count: deeper than any limit.
    if (error instanceof RangeError) return { document: index, reason: tooDeep(limits.maxDepth) }
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
