/**
 * A package README's runnable example: the one ```ts block right after the marker line
 * `<!-- consumer-test: example -->`. The consumer test runs exactly that text, so the README
 * cannot show code that does not run.
 */
export const EXAMPLE_MARKER = "<!-- consumer-test: example -->"

export class ReadmeExampleMissing extends Error {
  constructor(
    readonly readme: string,
    reason: string,
  ) {
    super(
      `${readme}: ${reason}; put the marker line ${EXAMPLE_MARKER} directly above one fenced \`\`\`ts block holding a complete example (imports included)`,
    )
  }
}

export const extractExample = (readme: string, text: string): string => {
  const lines = text.split("\n")
  const markers = lines.flatMap((line, index) => (line.trim() === EXAMPLE_MARKER ? [index] : []))
  if (markers.length !== 1) {
    throw new ReadmeExampleMissing(readme, `expected one example marker, found ${markers.length}`)
  }
  const start = markers[0]! + 1
  if (lines[start]?.trim() !== "```ts") {
    throw new ReadmeExampleMissing(readme, "the line after the marker does not open a ```ts block")
  }
  const end = lines.findIndex((line, index) => index > start && line.trim() === "```")
  if (end === -1)
    throw new ReadmeExampleMissing(readme, "the ```ts block after the marker is not closed")
  return `${lines.slice(start + 1, end).join("\n")}\n`
}

/** Bare module specifiers the example imports (`node:` built-ins left out). */
export const importedPackages = (source: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const match of source.matchAll(/^\s*import\s[^"']*["']([^"']+)["']/gm)) {
    const specifier = match[1]!
    if (specifier.startsWith(".") || specifier.startsWith("node:")) continue
    const parts = specifier.split("/")
    names.add(specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!)
  }
  return [...names].sort()
}
