/**
 * Bundles the sidecar into one ES module: `dist/sidecar.mjs` (the `build` script, which also
 * writes its compile cache, `dist/compile-cache`: see compileCache.ts), minified for the image.
 */
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { bundleApp } from "@beemesh/bundle"
import { writeCompileCache } from "./compileCache"

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..")
export const BUNDLE_PATH = join(PACKAGE_DIR, "dist/sidecar.mjs")

export const bundleSidecar = (outfile = BUNDLE_PATH): Promise<string> =>
  bundleApp({
    entry: join(PACKAGE_DIR, "src/main.ts"),
    outfile,
    minify: true,
    mangle: true,
    noiseCipher: "webassembly",
  })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await bundleSidecar()
  console.log(out)
  console.log(writeCompileCache(out, process.execPath))
}
