/**
 * Where the agent keeps Node's compile cache (V8 code cache of its bundle): a cache directory of
 * the user the agent runs as, outside the data directory because the launcher must know it before
 * any configuration is read (the data directory can come from the configuration file).
 *
 * Why: compiling the 4 MB bundle at every start leaves the parser's and compiler's freed memory
 * resident in glibc's heap for the process's whole life; from the cache, V8 deserializes the
 * compiled code instead. The first start writes the cache, every later one reads it.
 */

export interface CompileCacheSources {
  /** The agent's user id: root keeps its cache under /var/cache, any other user in its own. */
  readonly uid: number
  readonly env: Readonly<Record<string, string | undefined>>
  /** The user's home directory (used when XDG_CACHE_HOME is not set). */
  readonly home: string
}

/** The directory's last component, under the user's cache directory. */
export const COMPILE_CACHE_SUBDIR = "beemesh/compile-cache"

/**
 * The compile cache directory: `/var/cache/beemesh/compile-cache` for root,
 * `$XDG_CACHE_HOME/beemesh/compile-cache` (default `~/.cache`) for any other user. A relative
 * XDG_CACHE_HOME is ignored, as the XDG specification says.
 */
export const compileCacheDirectory = (sources: CompileCacheSources): string => {
  if (sources.uid === 0) return `/var/cache/${COMPILE_CACHE_SUBDIR}`
  const xdg = sources.env.XDG_CACHE_HOME
  const base = xdg?.startsWith("/") ? xdg : `${sources.home}/.cache`
  return `${base}/${COMPILE_CACHE_SUBDIR}`
}
