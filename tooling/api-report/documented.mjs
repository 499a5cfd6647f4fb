/**
 * The rule that keeps a library's public surface deliberate: every name its API report exports
 * appears in the `## API` section of its README. A name exported by accident (a helper another
 * module of the package needed) then fails the `api` task instead of becoming public unnoticed.
 */

/**
 * Top-level names an api-extractor report exports: `export class|interface|type|const|function|
 * enum|namespace X`, `export { A as X }`, and `declare namespace X` (how the report writes
 * `export * as X`; members of such a namespace are documented with it, as one module).
 */
export function exportedNames(report) {
  const names = new Set()
  const declaration =
    /^(?:export (?:declare )?(?:abstract )?(?:class|interface|type|const|let|function|enum|namespace)|declare namespace) ([A-Za-z_$][\w$]*)/gm
  for (const match of report.matchAll(declaration)) names.add(match[1])
  // Re-exports under another name: `export { DialFailed as Alias }` at the top level.
  for (const match of report.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const item of match[1].split(",")) {
      const name = item
        .trim()
        .split(/\s+as\s+/)
        .pop()
      if (name) names.add(name)
    }
  }
  return [...names].sort()
}

/**
 * The text of the README's `## API` section (with its `###` subsections), or undefined when the
 * README has none.
 */
export function apiSection(readme) {
  const lines = readme.split("\n")
  const start = lines.findIndex((line) => /^## API\s*$/.test(line))
  if (start === -1) return undefined
  const rest = lines.slice(start + 1)
  const end = rest.findIndex((line) => /^## /.test(line))
  return (end === -1 ? rest : rest.slice(0, end)).join("\n")
}

/**
 * Names that the section never mentions as code: a name counts as documented where a code span
 * starts with it (`` `Name` ``, `` `Name(options)` ``, `` `Name.layer` ``, `` `Name<A>` ``).
 */
export function undocumentedNames(names, section) {
  const documented = new Set()
  for (const match of section.matchAll(/`([A-Za-z_$][\w$]*)/g)) documented.add(match[1])
  return names.filter((name) => !documented.has(name))
}

/** An error message for the README of `packageName`, or undefined when everything is documented. */
export function readmeProblem(packageName, entryReports, readme) {
  const section = apiSection(readme)
  if (section === undefined) {
    return `${packageName}: README.md has no "## API" section. Add one that names every export (\`Name\` — what it is for), or move what users need not see under src/internal/.`
  }
  const missing = entryReports.flatMap(({ entry, report }) =>
    undocumentedNames(exportedNames(report), section).map((name) => `${entry}: ${name}`),
  )
  if (missing.length === 0) return undefined
  return [
    `${packageName}: exported but not documented in the "## API" section of README.md:`,
    ...missing.map((line) => `  - ${line}`),
    "Document each one there (`Name` — what it is for), or, if users need not see it, move it under src/internal/ and out of the entry point.",
  ].join("\n")
}
