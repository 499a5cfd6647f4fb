/**
 * An esbuild plugin for the agent's bundle: `@libp2p/kad-dht`'s routing-table refresh table
 * (`generated-prefix-list.js`, 65,536 numbers written as one array literal, 600 kB of source) is
 * replaced by the same numbers packed 3 bytes each in a base64 string and unpacked into a
 * Uint32Array when the module loads.
 *
 * Why: the literal is parsed at every start and kept twice in V8's heap (the array and the
 * literal's boilerplate, 8 bytes per number), about 1 MiB of heap and 2.7 MiB of private memory for
 * the process's life; the packed form is a 256 KiB typed array. kad-dht only indexes the table
 * (`GENERATED_PREFIXES[prefix]`), which a Uint32Array answers the same way.
 */
import { readFileSync } from "node:fs"
import type { Plugin } from "@beemesh/bundle"

const MODULE =
  /[\\/]@libp2p[\\/]kad-dht[\\/]dist[\\/]src[\\/]routing-table[\\/]generated-prefix-list\.js$/

/** The numbers of the module's `export default [ … ]`, refused unless each fits in 24 bits. */
export const prefixListNumbers = (source: string): Array<number> => {
  const body = /export default \[([\s\S]*?)\];?/.exec(source)?.[1]
  if (body === undefined)
    throw new Error("generated-prefix-list.js has no `export default [ … ]`: kad-dht changed it")
  const numbers = body
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "")
    .map(Number)
  for (const n of numbers)
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** 24)
      throw new Error(`generated-prefix-list.js holds ${n}, which does not fit in 24 bits`)
  return numbers
}

/** The replacement module's source for these numbers. */
export const packedPrefixListModule = (numbers: ReadonlyArray<number>): string => {
  const bytes = Buffer.alloc(numbers.length * 3)
  for (const [i, n] of numbers.entries()) bytes.writeUIntBE(n, i * 3, 3)
  // The loop in a function of its own: in the bundle's top level, its on-stack replacement
  // would compile the whole module's top-level code (1.8 MiB of machine code).
  return `const unpack = (packed) => {
  const list = new Uint32Array(${numbers.length});
  for (let i = 0; i < list.length; i++) list[i] = packed.readUIntBE(i * 3, 3);
  return list;
};
export default unpack(Buffer.from(${JSON.stringify(bytes.toString("base64"))}, "base64"));
`
}

export const compactPrefixList: Plugin = {
  name: "compact-kad-dht-prefix-list",
  setup: (build) => {
    build.onLoad({ filter: MODULE }, (args) => ({
      contents: packedPrefixListModule(prefixListNumbers(readFileSync(args.path, "utf8"))),
      loader: "js",
    }))
  },
}
