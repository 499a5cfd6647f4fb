import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { packedPrefixListModule, prefixListNumbers } from "../../prefixList"

// The module the bundle replaces, as installed for @beemesh/registry (the agent's kad-dht).
const ORIGINAL = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../packages/registry/node_modules/@libp2p/kad-dht/dist/src/routing-table/generated-prefix-list.js",
)

describe("the packed kad-dht prefix list", () => {
  it("holds the same 65,536 numbers as kad-dht's array literal", async () => {
    const original = (await import(ORIGINAL)).default as Array<number>
    expect(original.length).toBe(65536)
    expect(prefixListNumbers(readFileSync(ORIGINAL, "utf8"))).toEqual(original)
    const packed = packedPrefixListModule(original)
    const url = `data:text/javascript;base64,${Buffer.from(packed).toString("base64")}`
    const list = (await import(url)).default as Uint32Array
    expect(list).toBeInstanceOf(Uint32Array)
    expect(Array.from(list)).toEqual(original)
  })

  it("refuses a module it does not understand, saying what changed", () => {
    expect(() => prefixListNumbers("export const x = 1")).toThrow(/kad-dht changed it/)
    expect(() => prefixListNumbers("export default [1, 16777216]")).toThrow(/24 bits/)
  })
})
