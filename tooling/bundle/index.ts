/**
 * How every Beemesh app (agent, CLI, sidecar) becomes one ES module for Node 24, so that the three
 * bundles are built alike and a setting changes in one place.
 */
import { chmod } from "node:fs/promises"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
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
  /** Whitespace and syntax minified. */
  readonly minify?: boolean
  /**
   * Identifiers shortened too (with `minify`): a smaller source kept in memory for the process's
   * life (0.6 MiB less private memory for the sidecar). Functions and classes then carry their
   * short names in stack traces; the bundle's source map (`<outfile>.map`, read by
   * `node --enable-source-maps`) gives the original ones back.
   */
  readonly mangle?: boolean
  /**
   * Which ChaCha20-Poly1305 seals and opens libp2p-noise's messages under 1200 bytes (larger ones
   * always go through node:crypto): `"node"` (the default) is OpenSSL's through node:crypto and
   * costs no memory; `"webassembly"` is `@chainsafe/as-chacha20poly1305`'s WebAssembly with one
   * instance, for an app whose data path carries small messages (the sidecar): about a third less
   * CPU per small message, for about 0.4 MiB more private memory and the V8 WebAssembly compiler's
   * pages of the node binary in its RSS (shared by every process of that binary).
   */
  readonly noiseCipher?: "node" | "webassembly"
  /** esbuild plugins, e.g. one that replaces a dependency's module with an equivalent one. */
  readonly plugins?: ReadonlyArray<Plugin>
}

const OWN_DIR = dirname(fileURLToPath(import.meta.url))

// Some dependencies are CommonJS and call require(); an ES module has none of its own.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"

/**
 * An esbuild plugin that answers every import of a module matching `name` with `contents`; the
 * imports in `contents` resolve from this package's directory (its own dependencies).
 */
const replaceModule = (plugin: string, name: RegExp, contents: string): Plugin => ({
  name: plugin,
  setup: (build) => {
    build.onResolve({ filter: name }, (args) => ({ path: args.path, namespace: plugin }))
    build.onLoad({ filter: /.*/, namespace: plugin }, () => ({
      contents,
      loader: "js",
      resolveDir: OWN_DIR,
    }))
  },
})

/**
 * Both ChaCha20-Poly1305 replacements' output buffer, as the package makes it: the caller's
 * destination when it has the right length (refused otherwise), else a new one.
 */
const DESTINATION = `const destination = (dst, length) => {
  if (dst === undefined) return new Uint8Array(length);
  if (dst.length !== length) throw new Error("ChaCha20Poly1305: incorrect destination length");
  return dst;
};
`

/**
 * `@chainsafe/as-chacha20poly1305` as Node's own ChaCha20-Poly1305 (OpenSSL's). libp2p-noise
 * seals and opens messages under 1200 bytes with it, larger ones with node:crypto; loading it
 * compiles its WebAssembly and instantiates it twice (one instance of its own at load, one for
 * noise), 0.8–1 MiB of private memory in every process. The replacement has the two exports noise
 * uses, with the same results: `seal` returns ciphertext and 16-byte tag, `open` the plaintext or
 * null when the tag does not match; a destination of the wrong length is refused as before. The
 * price: about 5 µs more per sealed and opened message under 500 bytes (OpenSSL's set-up per
 * message), less above it.
 */
export const nodeChaCha20Poly1305: Plugin = replaceModule(
  "as-chacha20poly1305-as-node-crypto",
  /^@chainsafe\/as-chacha20poly1305$/,
  `import { createCipheriv, createDecipheriv } from "node:crypto";
const TAG = 16;
${DESTINATION}export const newInstance = () => ({});
export class ChaCha20Poly1305 {
  constructor(_context) {}
  seal(key, nonce, plaintext, associatedData, dst) {
    const result = destination(dst, plaintext.length + TAG);
    const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    if (associatedData !== undefined) cipher.setAAD(associatedData);
    result.set(cipher.update(plaintext), 0);
    cipher.final();
    result.set(cipher.getAuthTag(), plaintext.length);
    return result;
  }
  open(key, nonce, sealed, associatedData, dst) {
    const result = destination(dst, Math.max(sealed.length - TAG, 0));
    if (sealed.length < TAG) return null;
    const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
    if (associatedData !== undefined) decipher.setAAD(associatedData);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG));
    try {
      decipher.final();
    } catch {
      return null;
    }
    if (dst === undefined) return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
    result.set(plaintext);
    return result;
  }
}
`,
)

/**
 * `@chainsafe/as-chacha20poly1305` with one WebAssembly instance and a constant-time tag check.
 * The package's entry also loads its stand-alone ChaCha20 and Poly1305, which instantiate the
 * module a second time at import (another 512 KiB memory, touched as far as used); its own `open`
 * compares the tag byte by byte and stops at the first difference. This module exports the two
 * names libp2p-noise uses, on the package's WebAssembly (the same instance layout and calls as
 * its class), with the same results: `seal` returns ciphertext and 16-byte tag, `open` the
 * plaintext or null when the tag does not match (a given destination is then zeroed, where the
 * package leaves the unauthenticated plaintext in it), a destination of the wrong length is refused.
 * Key, nonce and associated data are checked as the package checks them (32, 12, at most 32 bytes).
 * The instance's memory never grows (AssemblyScript without a runtime), so its views stay valid.
 */
const webAssemblyChaCha20Poly1305: Plugin = replaceModule(
  "as-chacha20poly1305-one-instance",
  /^@chainsafe\/as-chacha20poly1305$/,
  `import { newInstance } from "@chainsafe/as-chacha20poly1305/lib/src/wasm.js";
import { timingSafeEqual } from "node:crypto";
export { newInstance };
const KEY = 32, NONCE = 12, TAG = 16, CHUNK = 65536;
${DESTINATION}export class ChaCha20Poly1305 {
  constructor(ctx) {
    const memory = ctx.memory.buffer;
    this.sealUpdate = ctx.sealUpdate;
    this.openUpdate = ctx.openUpdate;
    this.key = new Uint8Array(memory, ctx.cpKey.value, KEY);
    this.nonce = new Uint8Array(memory, ctx.cpNonce.value, NONCE);
    this.ad = new Uint8Array(memory, ctx.cpAssociatedData.value, KEY);
    this.input = new Uint8Array(memory, ctx.cpInput.value, CHUNK);
    this.output = new Uint8Array(memory, ctx.chacha20Output.value, CHUNK);
    this.tag = new Uint8Array(memory, ctx.poly1305Output.value, TAG);
  }
  seal(key, nonce, plaintext, associatedData, dst) {
    const result = destination(dst, plaintext.length + TAG);
    this.run(this.sealUpdate, key, nonce, associatedData, plaintext, result);
    result.set(this.tag, plaintext.length);
    return result;
  }
  open(key, nonce, sealed, associatedData, dst) {
    const result = destination(dst, Math.max(sealed.length - TAG, 0));
    if (sealed.length < TAG) return null;
    this.run(this.openUpdate, key, nonce, associatedData, sealed.subarray(0, sealed.length - TAG), result);
    if (timingSafeEqual(this.tag, sealed.subarray(sealed.length - TAG))) return result;
    // Forged or damaged: no unauthenticated plaintext is left in the caller's destination.
    result.fill(0);
    return null;
  }
  run(update, key, nonce, associatedData, data, result) {
    const adLength = associatedData === undefined ? 0 : associatedData.length;
    if (key.length !== KEY) throw new Error("Invalid chacha20poly1305 key length " + key.length + ", expect " + KEY);
    if (adLength > KEY) throw new Error("Invalid ad length " + adLength + ", expect <= " + KEY);
    if (nonce.length !== NONCE) throw new Error("Invalid nonce length " + nonce.length + ", expect " + NONCE);
    this.key.set(key);
    this.nonce.set(nonce);
    if (adLength > 0) this.ad.set(associatedData);
    const length = data.length;
    let offset = 0;
    do {
      const end = Math.min(length, offset + CHUNK);
      this.input.set(offset === 0 && end === length ? data : data.subarray(offset, end));
      update(offset === 0, end === length, end - offset, length, adLength);
      result.set(this.output.subarray(0, end - offset), offset);
      offset = end;
    } while (offset < length);
  }
}
`,
)

/**
 * `@chainsafe/as-sha256` as Node's own SHA-256. `@chainsafe/libp2p-noise` imports its `digest`
 * for a crypto implementation it does not use on Node (its default hashes with node:crypto), and
 * loading the module compiles two WebAssembly builds of SHA-256 and instantiates one with its
 * memory: 1.4 MiB of private memory in a bare node process, 0.3 MiB in the sidecar, for nothing. The replacement exports the one
 * function that is imported (a bundle importing any other fails to build) with the same result: the
 * SHA-256 digest of the bytes, a new Uint8Array.
 */
export const nodeSha256: Plugin = replaceModule(
  "as-sha256-as-node-crypto",
  /^@chainsafe\/as-sha256$/,
  `import { createHash } from "node:crypto";
export const digest = (data) => new Uint8Array(createHash("sha256").update(data).digest());
`,
)

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
    // No `keepNames`: esbuild would wrap every function and class in a helper that redefines its
    // `name`, which turns each closure made at run time into a dictionary-mode object (about 250
    // bytes of property storage each) and slows its creation: in the sidecar 1.7 MiB of private
    // memory idle, 4 MiB at its peak under 100 connections, and 10–15 % of its new connections
    // per second. Names in stack traces come back through the source map instead.
    keepNames: false,
    // Linked: the bundle ends with a sourceMappingURL comment, which Node follows only when
    // started with --enable-source-maps (nothing is read or kept otherwise). Positions and names
    // only, no copy of the sources.
    sourcemap: "linked",
    sourcesContent: false,
    legalComments: "none",
    logLevel: "warning",
    plugins: [
      nodeSha256,
      options.noiseCipher === "webassembly" ? webAssemblyChaCha20Poly1305 : nodeChaCha20Poly1305,
      ...(options.plugins ?? []),
    ],
    banner: {
      js: options.executable === true ? `#!/usr/bin/env node\n${REQUIRE_SHIM}` : REQUIRE_SHIM,
    },
  })
  if (options.executable === true) await chmod(options.outfile, 0o755)
  return options.outfile
}
