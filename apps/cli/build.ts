/**
 * Bundles the CLI into one ES module with esbuild: `dist/beemesh.mjs` (the `build` script). Run it
 * with the project's Node 24: `tooling/run cli --help`.
 */
import { chmod } from "node:fs/promises"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
export const CLI_BUNDLE = join(PACKAGE_DIR, "dist/beemesh.mjs")

await build({
  entryPoints: [join(PACKAGE_DIR, "src/main.ts")],
  outfile: CLI_BUNDLE,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  // Installed as a bin, it runs through its shebang on whatever `node` is first on PATH (24+).
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
})
await chmod(CLI_BUNDLE, 0o755)
console.log(CLI_BUNDLE)
