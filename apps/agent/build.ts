/**
 * Bundles the agent (the `build` script) into two ES modules: `dist/agent-main.mjs`, the whole
 * agent, and `dist/agent.mjs`, the entry point, a few lines that turn on Node's compile cache and
 * then import the first (src/launch.ts says why). Run it with the project's Node 24:
 * `tooling/run agent --help`.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"
import { compactPrefixList } from "./prefixList"

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
/** What runs the agent: `node <AGENT_NODE_OPTIONS> dist/agent.mjs …`. */
export const AGENT_BUNDLE = join(PACKAGE_DIR, "dist/agent.mjs")

await bundleApp({
  entry: join(PACKAGE_DIR, "src/main.ts"),
  outfile: join(PACKAGE_DIR, "dist/agent-main.mjs"),
  plugins: [compactPrefixList],
  minify: true,
  mangle: true,
})
console.log(await bundleApp({ entry: join(PACKAGE_DIR, "src/launch.ts"), outfile: AGENT_BUNDLE }))
