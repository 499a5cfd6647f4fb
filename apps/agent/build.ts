/**
 * Bundles the agent into one ES module: `dist/agent.mjs` (the `build` script). Run it with the
 * project's Node 24: `tooling/run agent --help`.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"

const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url))
export const AGENT_BUNDLE = join(PACKAGE_DIR, "dist/agent.mjs")

console.log(await bundleApp({ entry: join(PACKAGE_DIR, "src/main.ts"), outfile: AGENT_BUNDLE }))
