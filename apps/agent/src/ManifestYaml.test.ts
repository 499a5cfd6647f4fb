import { describe, expect, it } from "vitest"
import { readDocuments } from "./ManifestYaml"

const brackets = "[".repeat(40)

describe("reading a body as YAML documents", () => {
  it("reads every document, JSON included", () => {
    expect(readDocuments('a: 1\n---\n{"b": [2]}\n')).toEqual([{ a: 1 }, { b: [2] }])
  })

  it.each([
    ["a quoted string", `args: ["${brackets}", '${brackets}']`],
    ["a plain scalar", `name: foo${brackets}`],
    ["a comment", `a: 1 # ${brackets}`],
    ["a block scalar of balanced brackets", `script: |\n${"  [ -f x ] && y\n".repeat(40)}`],
    ["dashes inside a plain scalar", `a: b ${"- ".repeat(40)}x`],
  ])("brackets in %s are not nesting", (_, text) => {
    const documents = readDocuments(text)
    expect(Array.isArray(documents), JSON.stringify(documents)).toBe(true)
  })

  it.each([
    [
      "flow collections",
      `a: ${"[".repeat(33)}`,
      /more than 32 \[, \{ or - open at once \(line 1\)/,
    ],
    ["JSON objects", `${'{"a": '.repeat(33)}1${"}".repeat(33)}`, /more than 32/],
    ["dashes on one line", `${"- ".repeat(33)}x`, /more than 32/],
  ])("too many open %s are refused before parsing", (_, text, reason) => {
    expect(readDocuments(text)).toMatchObject({
      document: 0,
      reason: expect.stringMatching(reason),
    })
  })

  it("refuses block nesting deeper than the limit, wherever the stack would give out", () => {
    const block = Array.from({ length: 33 }, (_, i) => `${" ".repeat(i)}a:`).join("\n")
    expect(readDocuments(`${block} 1`)).toMatchObject({
      document: 0,
      reason: expect.stringMatching(
        /nested too deeply to be a manifest: more than 32 levels \(line 33/,
      ),
    })
    const fine = Array.from({ length: 32 }, (_, i) => `${" ".repeat(i)}a:`).join("\n")
    expect(Array.isArray(readDocuments(`${fine} 1`))).toBe(true)
  })

  it("names the document where the nesting is", () => {
    expect(readDocuments(`---\na: 1\n---\nb: ${"[".repeat(33)}`)).toMatchObject({ document: 1 })
  })

  it("refuses a repeated key, and a key that is not a plain value, with their place", () => {
    expect(readDocuments("a: 1\nb: 2\na: 3")).toEqual({
      document: 0,
      reason: 'not valid as a manifest: the key "a" appears twice in one map (line 3, column 1)',
    })
    expect(readDocuments("? [a]\n: 1")).toMatchObject({ reason: /not a plain string or number/ })
  })

  it("bounds documents and alias expansion", () => {
    expect(
      readDocuments("a: 1\n---\nb: 2\n---\nc: 3", {
        maxDocuments: 2,
        maxAliasCount: 50,
        maxDepth: 32,
      }),
    ).toEqual({
      document: 2,
      reason: "the body has more than 2 documents; send at most 2 per request",
    })
    const aliases = `a: &a [1]\nb: [${Array.from({ length: 6 }, () => "*a").join(", ")}]`
    expect(Array.isArray(readDocuments(aliases))).toBe(true)
    expect(
      readDocuments(aliases, { maxDocuments: 2, maxAliasCount: 5, maxDepth: 32 }),
    ).toMatchObject({
      reason: /aliases expand to too many nodes \(at most 5 alias/,
    })
  })
})
