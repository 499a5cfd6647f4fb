/**
 * Bundles the CLI into one executable ES module: `dist/beemesh.mjs` (the `build` script). Run it
 * with the project's Node 24: `tooling/run cli --help`.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
export const CLI_BUNDLE = join(PACKAGE_DIR, "dist/beemesh.mjs")

// Installed as a bin: it runs through its shebang.
console.log(
  await bundleApp({
    entry: join(PACKAGE_DIR, "src/main.ts"),
    outfile: CLI_BUNDLE,
    executable: true,
  }),
)
