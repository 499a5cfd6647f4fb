/**
 * Frees the compile cache's bytes once the bundle is running (`module.flushCompileCache()`).
 *
 * Why: Node keeps every compile-cache entry it read (the bundle's, 1.7 MiB) for the process's
 * whole life, in case the cache must be rewritten at exit; flushing writes the entries that
 * changed and then drops them all. The sidecar is one bundle, compiled before any of its code
 * runs, so nothing needs the entry afterwards. An entry V8 accepted has not changed, so nothing
 * is written: the image's cache directory stays as built (it is read-only to the sidecar's user
 * anyway). A node that could not use the cache (other V8 flags) rewrites it now rather than at
 * exit, where it may write (a local `dist/compile-cache`).
 */
export const releaseCompileCache = (): void => {
  const module = process.getBuiltinModule("node:module")
  if (module.getCompileCacheDir() !== undefined) module.flushCompileCache()
}
