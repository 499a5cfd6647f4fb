/**
 * Bundles the agent into one ES module with esbuild: `dist/agent.mjs` (the `build` script). Run it
 * with the project's Node 24: `tooling/run agent --help`.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
export const AGENT_BUNDLE = join(PACKAGE_DIR, "dist/agent.mjs")

await build({
  entryPoints: [join(PACKAGE_DIR, "src/main.ts")],
  outfile: AGENT_BUNDLE,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  // Some dependencies are CommonJS and call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
})
console.log(AGENT_BUNDLE)
