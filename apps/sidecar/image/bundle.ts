/**
 * Bundles the sidecar into one ES module with esbuild: `dist/sidecar.mjs` (the `build` script).
 */
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const BUNDLE_PATH = join(PACKAGE_DIR, "dist/sidecar.mjs")

export const bundleSidecar = async (outfile = BUNDLE_PATH): Promise<string> => {
  await build({
    entryPoints: [join(PACKAGE_DIR, "src/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    // Some dependencies are CommonJS and call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  })
  return outfile
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await bundleSidecar()
  console.log(out)
}
