import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { apiSection, exportedNames, readmeProblem } from "./documented.mjs"

const report = `## API Report File for "@beemesh/example"

\`\`\`ts
import { Effect } from 'effect';

// @public
export const serve: (port: number) => Effect.Effect<void>;

// @public
export interface ServeOptions {
    readonly port: number;
}

declare namespace Codec {
    export {
        decode
    }
}

// @public
const decode: (text: string) => number;

export class ServeFailed extends ServeFailed_base<{}> {
}

export { ServeFailed as ListenFailed }
\`\`\`
`

const readme = (api) => `# @beemesh/example

Mentions \`decode\` and \`helper\` outside the API section, which does not count.

## API

${api}

## Tests

\`internalHelper\` is not documented here either.
`

describe("exportedNames", () => {
  it("lists top-level exports, aliases and namespaces, not the members of a namespace", () => {
    assert.deepEqual(exportedNames(report), [
      "Codec",
      "ListenFailed",
      "ServeFailed",
      "ServeOptions",
      "serve",
    ])
  })
})

describe("apiSection", () => {
  it("is the text between '## API' and the next second-level heading", () => {
    assert.equal(apiSection(readme("- `serve(port)`: x")).trim(), "- `serve(port)`: x")
  })
  it("is undefined for a README without one", () => {
    assert.equal(apiSection("# x\n\n## Usage\n"), undefined)
  })
})

describe("readmeProblem", () => {
  const api =
    "- `serve(port)` (`ServeOptions`): serves.\n- `ServeFailed` (`ListenFailed`): the bind failed.\n- `Codec.decode`: decodes."
  it("accepts a README whose API section names every export", () => {
    assert.equal(
      readmeProblem("@beemesh/example", [{ entry: "index", report }], readme(api)),
      undefined,
    )
  })
  it("names each undocumented export and says how to fix it", () => {
    const problem = readmeProblem(
      "@beemesh/example",
      [{ entry: "index", report: `${report}\nexport const internalHelper: number;\n` }],
      readme(api),
    )
    assert.match(problem, /index: internalHelper/)
    assert.match(problem, /move it under src\/internal\//)
    assert.doesNotMatch(problem, /index: serve\b/)
  })
  it("does not count a name mentioned only as part of another word or outside the section", () => {
    const problem = readmeProblem(
      "@beemesh/example",
      [{ entry: "index", report }],
      readme("- `serveAll`, `ServeFailed`, `ListenFailed`, `ServeOptions`, `Codec`"),
    )
    assert.match(problem, /index: serve$/m)
  })
  it("fails a README without an API section", () => {
    assert.match(
      readmeProblem("@beemesh/example", [{ entry: "index", report }], "# x\n"),
      /has no "## API" section/,
    )
  })
})
