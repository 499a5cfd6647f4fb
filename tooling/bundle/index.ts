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
  /**
   * Whitespace and syntax minified; functions and classes keep their `name` either way (stack
   * traces, span names).
   */
  readonly minify?: boolean
  /**
   * Identifiers shortened too (with `minify`): a smaller source kept in memory for the process's
   * life (0.6 MiB less private memory for the sidecar). `name` properties are kept, so a stack
   * trace still names functions, but a method appears under its class's short name.
   */
  readonly mangle?: boolean
  /** esbuild plugins, e.g. one that replaces a dependency's module with an equivalent one. */
  readonly plugins?: ReadonlyArray<Plugin>
}

// Some dependencies are CommonJS and call require(); an ES module has none of its own.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"

/**
 * `@chainsafe/as-sha256` as Node's own SHA-256. `@chainsafe/libp2p-noise` imports its `digest`
 * for a crypto implementation it does not use on Node (its default hashes with node:crypto), and
 * loading the module compiles and instantiates two WebAssembly builds of SHA-256 with their memory:
 * 1.4 MiB of private memory in every process, for nothing. The replacement exports the one
 * function that is imported (a bundle importing any other fails to build) with the same result: the
 * SHA-256 digest of the bytes, a new Uint8Array.
 */
export const nodeSha256: Plugin = {
  name: "as-sha256-as-node-crypto",
  setup: (build) => {
    build.onResolve({ filter: /^@chainsafe\/as-sha256$/ }, () => ({
      path: "as-sha256",
      namespace: "beemesh-node-sha256",
    }))
    build.onLoad({ filter: /.*/, namespace: "beemesh-node-sha256" }, () => ({
      contents: `import { createHash } from "node:crypto";
export const digest = (data) => new Uint8Array(createHash("sha256").update(data).digest());
`,
      loader: "js",
    }))
  },
}

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
    minifyIdentifiers: options.minify === true && options.mangle === true,
    keepNames: true,
    legalComments: "none",
    logLevel: "warning",
    plugins: [nodeSha256, ...(options.plugins ?? [])],
    banner: {
      js: options.executable === true ? `#!/usr/bin/env node\n${REQUIRE_SHIM}` : REQUIRE_SHIM,
    },
  })
  if (options.executable === true) await chmod(options.outfile, 0o755)
  return options.outfile
}
