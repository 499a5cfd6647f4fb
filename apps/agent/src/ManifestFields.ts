/**
 * The field rules of a manifest that its Schema alone does not give: every key must be one the
 * Schema declares (a Schema decode strips unknown keys, which would drop a field silently), no
 * string or key may carry a NUL (Podman's arguments cannot), and nesting is bounded. Also renders
 * the README's table of every accepted and refused field from the same Schemas.
 */
import { SchemaAST } from "effect"
import { NOTE, REFUSED, REFUSED_OTHER } from "./ManifestSchema"

/** Kubernetes manifests are about ten levels deep; anything far deeper is not a manifest. */
export const MAX_DEPTH = 32

type Fields = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Fields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const annotation = (ast: SchemaAST.AST, key: string): unknown => SchemaAST.resolve(ast)?.[key]

/** The object or array schema behind optionals, unions and suspensions, for a value of `kind`. */
const shapeOf = (
  ast: SchemaAST.AST | undefined,
  kind: "Objects" | "Arrays",
): SchemaAST.AST | undefined => {
  if (ast === undefined) return undefined
  if (ast._tag === kind) return ast
  if (ast._tag === "Suspend") return shapeOf(ast.thunk(), kind)
  if (ast._tag === "Union") {
    for (const member of ast.types) {
      const found = shapeOf(member, kind)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** Shortens what a message quotes back: a hostile input may be a megabyte long. */
export const quote = (text: string, max = 60): string =>
  JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text)

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** `spec.containers[0].image`; odd keys (labels, hostile ones) in brackets. */
export const fieldPath = (parent: string, key: string | number): string => {
  if (typeof key === "number") return `${parent}[${key}]`
  if (PLAIN_KEY.test(key) && key !== "__proto__") return parent === "" ? key : `${parent}.${key}`
  return `${parent}[${quote(key)}]`
}

const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

const refusal = (objects: SchemaAST.Objects, key: string, path: string): string => {
  const refused = annotation(objects, REFUSED) as Readonly<Record<string, string>> | undefined
  if (refused !== undefined && Object.hasOwn(refused, key)) return `${path}: ${refused[key]}`
  const other = annotation(objects, REFUSED_OTHER)
  if (typeof other === "string") return `${path.replace(/[.[][^.[]*$/, "")}: ${other}`
  const known = objects.propertySignatures.map((signature) => String(signature.name))
  const near = known.find(
    (name) => name.toLowerCase() === key.toLowerCase() || distance(name, key) <= 2,
  )
  const hint =
    near === undefined ? `the fields here are ${known.join(", ")}` : `did you mean ${near}?`
  return `${path}: unknown field; ${hint}`
}

/**
 * The first field of `value` that `ast` does not accept as a field (unknown, refused by name, a
 * NUL, too deep), as `path: reason`; undefined when there is none. Types are the Schema's to check.
 */
export const fieldProblem = (
  ast: SchemaAST.AST | undefined,
  value: unknown,
  path = "",
  depth = 0,
): string | undefined => {
  const where = path === "" ? "the document" : path
  if (depth > MAX_DEPTH) return `${where}: nested more than ${MAX_DEPTH} levels deep`
  if (typeof value === "string") {
    return value.includes("\0") ? `${where}: contains a NUL character` : undefined
  }
  if (Array.isArray(value)) {
    const arrays = shapeOf(ast, "Arrays")
    const element = arrays?._tag === "Arrays" ? arrays.rest[0] : undefined
    for (const [index, item] of value.entries()) {
      const problem = fieldProblem(element, item, fieldPath(path, index), depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (!isRecord(value)) return undefined
  const objects = shapeOf(ast, "Objects")
  const closed =
    objects?._tag === "Objects" && objects.indexSignatures.length === 0 ? objects : undefined
  for (const key of Object.keys(value)) {
    const child = fieldPath(path, key)
    if (key.includes("\0")) return `${child}: the field name contains a NUL character`
    let type: SchemaAST.AST | undefined
    if (closed !== undefined) {
      const signature = closed.propertySignatures.find((s) => s.name === key)
      if (signature === undefined) return refusal(closed, key, child)
      type = signature.type
    } else if (objects?._tag === "Objects") {
      type = objects.indexSignatures[0]?.type
    }
    const problem = fieldProblem(type, value[key], child, depth + 1)
    if (problem !== undefined) return problem
  }
  return undefined
}

const noteOf = (ast: SchemaAST.AST): string | undefined => {
  const note = annotation(ast, NOTE)
  if (typeof note === "string") return note
  if (ast._tag === "Union") {
    for (const member of ast.types) {
      const found = noteOf(member)
      if (found !== undefined) return found
    }
  }
  return undefined
}

const titled = (ast: SchemaAST.AST): SchemaAST.Objects | undefined => {
  const arrays = shapeOf(ast, "Arrays")
  const objects =
    shapeOf(ast, "Objects") ??
    (arrays?._tag === "Arrays" ? shapeOf(arrays.rest[0], "Objects") : undefined)
  return objects?._tag === "Objects" && typeof annotation(objects, "title") === "string"
    ? objects
    : undefined
}

const cell = (text: string) => text.replaceAll("|", "\\|")

/**
 * Markdown tables, one per object of the manifests (Pod spec, Container …), of every field the
 * agent accepts (with its note) and every Kubernetes field it refuses by name (with the reason).
 */
export const fieldTables = (manifests: ReadonlyArray<{ readonly ast: SchemaAST.AST }>): string => {
  const sections: Array<string> = []
  const seen = new Set<string>()
  const visit = (objects: SchemaAST.Objects) => {
    const title = String(annotation(objects, "title"))
    if (seen.has(title)) return
    seen.add(title)
    const rows = objects.propertySignatures.map((signature) => {
      const note = noteOf(signature.type) ?? ""
      const refused = note.startsWith("refused")
      const state = refused
        ? "refused"
        : SchemaAST.isOptional(signature.type)
          ? "optional"
          : "required"
      return `| \`${String(signature.name)}\` | ${state} | ${cell(refused ? note.replace(/^refused:? ?/, "") : note)} |`
    })
    const refused = (annotation(objects, REFUSED) ?? {}) as Readonly<Record<string, string>>
    for (const [name, reason] of Object.entries(refused)) {
      rows.push(`| \`${name}\` | refused | ${cell(reason.replace(/^is (refused: )?/, ""))} |`)
    }
    const other = annotation(objects, REFUSED_OTHER)
    if (typeof other === "string")
      rows.push(`| any field | refused | ${cell(other.replace(/^is /, ""))} |`)
    sections.push(
      [`#### ${title}`, "", "| field | accepted | note |", "| --- | --- | --- |", ...rows].join(
        "\n",
      ),
    )
    for (const signature of objects.propertySignatures) {
      const child = titled(signature.type)
      if (child !== undefined) visit(child)
    }
  }
  for (const manifest of manifests) {
    const objects = titled(manifest.ast)
    if (objects !== undefined) visit(objects)
  }
  return `${sections.join("\n\n")}\n`
}

export const README_BEGIN =
  "<!-- fields:begin (generated from src/ManifestSchema.ts by `pnpm readme:fields`) -->"
export const README_END = "<!-- fields:end -->"

/** `readme` with the field tables of `manifests` between the markers. */
export const readmeWithFieldTables = (
  readme: string,
  manifests: ReadonlyArray<{ readonly ast: SchemaAST.AST }>,
): string => {
  const begin = readme.indexOf(README_BEGIN)
  const end = readme.indexOf(README_END)
  if (begin < 0 || end < begin) {
    throw new Error(`the README has no ${README_BEGIN} … ${README_END} section`)
  }
  return `${readme.slice(0, begin + README_BEGIN.length)}\n\n${fieldTables(manifests)}\n${readme.slice(end)}`
}
