/**
 * How every Beemesh app (agent, CLI, sidecar) becomes one ES module for Node 24, so that the three
 * bundles are built alike and a setting changes in one place.
 */
import { chmod } from "node:fs/promises"
import { build, type Plugin } from "esbuild"

export type { Plugin } from "esbuild"

export interface AppBundleOptions {
  /** The app's entry module, e.g. `src/main.ts`. */
  readonly entry: string
  /** Where the bundle is written. */
  readonly outfile: string
  /**
   * An installed bin: a `#!/usr/bin/env node` line first (it runs on whatever `node` is first on
   * PATH, 24 or later) and mode 0755.
   */
  readonly executable?: boolean
  /** Whitespace and syntax minified; names are kept either way (stack traces, span names). */
  readonly minify?: boolean
  /** esbuild plugins, e.g. one that replaces a dependency's module with an equivalent one. */
  readonly plugins?: ReadonlyArray<Plugin>
}

// Some dependencies are CommonJS and call require(); an ES module has none of its own.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"

/** Bundles `entry` into `outfile` and returns the path written. */
export const bundleApp = async (options: AppBundleOptions): Promise<string> => {
  await build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minifyWhitespace: options.minify === true,
    minifySyntax: options.minify === true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    plugins: [...(options.plugins ?? [])],
    banner: {
      js: options.executable === true ? `#!/usr/bin/env node\n${REQUIRE_SHIM}` : REQUIRE_SHIM,
    },
  })
  if (options.executable === true) await chmod(options.outfile, 0o755)
  return options.outfile
}
