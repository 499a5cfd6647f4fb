import { describe, expect, it } from "vitest"
import { EXAMPLE_MARKER, extractExample, importedPackages } from "./ReadmeExample.js"

const readme = (body: string) => `# pkg\n\nText.\n\n${body}\n\nMore text.\n`

describe("README example extraction", () => {
  it("takes the ts block after the marker, without the fences", () => {
    const text = readme(`${EXAMPLE_MARKER}\n\`\`\`ts\nconst a = 1\nconsole.log(a)\n\`\`\``)
    expect(extractExample("README.md", text)).toBe("const a = 1\nconsole.log(a)\n")
  })

  it("a README without the marker is an error that says how to add one", () => {
    expect(() => extractExample("x/README.md", readme("```ts\nconst a = 1\n```"))).toThrow(
      /x\/README.md: expected one example marker, found 0; put the marker line/,
    )
  })

  it("two markers are refused: which one runs would be a guess", () => {
    const block = `${EXAMPLE_MARKER}\n\`\`\`ts\nx\n\`\`\``
    expect(() => extractExample("README.md", readme(`${block}\n${block}`))).toThrow(/found 2/)
  })

  it("a marker not followed by a ts block is refused", () => {
    expect(() =>
      extractExample("README.md", readme(`${EXAMPLE_MARKER}\n\`\`\`sh\nls\n\`\`\``)),
    ).toThrow(/does not open a ```ts block/)
  })

  it("an unclosed block is refused", () => {
    expect(() => extractExample("README.md", `${EXAMPLE_MARKER}\n\`\`\`ts\nconst a = 1\n`)).toThrow(
      /not closed/,
    )
  })

  it("lists the packages an example imports, scoped names whole, built-ins left out", () => {
    const source = [
      'import { Effect } from "effect"',
      'import { Schema } from "effect/Schema"',
      'import type { Stream } from "@libp2p/interface"',
      'import { makeP2pNode } from "@beemesh/p2p"',
      'import { readFile } from "node:fs/promises"',
      'import { helper } from "./helper.js"',
    ].join("\n")
    expect(importedPackages(source)).toEqual(["@beemesh/p2p", "@libp2p/interface", "effect"])
  })
})
