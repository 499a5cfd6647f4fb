/**
 * The agent's entry point (`dist/agent.mjs`). Two things must happen before the agent's code is
 * compiled, so they happen here, in a module that is not part of the agent's bundle and imports
 * nothing of it (whatever it imports is compiled without the cache):
 *
 * 1. glibc's malloc arenas: glibc reads `MALLOC_ARENA_MAX` once, when the process starts, so
 *    without it the launcher replaces its own process (`process.execve`: same PID, same stdio,
 *    same Node options and arguments) with one that has `MALLOC_ARENA_MAX=2`. glibc otherwise
 *    gives each thread that allocates (V8's GC and compiler workers, libuv's pool) an arena of its
 *    own, up to 8 per core, whose freed memory stays resident: 2 arenas kept 2 MiB less private
 *    memory idle and 5 MiB less with 20 pods. A value set by the operator is kept.
 * 2. Node's compile cache (`CompileCache.ts`), then the agent's bundle (`dist/agent-main.mjs`):
 *    V8 compiles a module when it is imported, before any of its code runs. With
 *    `NODE_COMPILE_CACHE` set, Node has already enabled the cache there and this call changes
 *    nothing. A directory that cannot be made or written only costs the cache: the agent starts
 *    compiling as before (Node says why with NODE_DEBUG_NATIVE=COMPILE_CACHE).
 */
import { enableCompileCache, flushCompileCache } from "node:module"
import { homedir } from "node:os"
import { compileCacheDirectory } from "./CompileCache"

/** The arenas the agent runs with unless MALLOC_ARENA_MAX is set. */
const MALLOC_ARENAS = "2"

if (process.env.MALLOC_ARENA_MAX === undefined && process.execve !== undefined)
  process.execve(
    process.execPath,
    [process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { ...process.env, MALLOC_ARENA_MAX: MALLOC_ARENAS },
  )

enableCompileCache(
  compileCacheDirectory({ uid: process.getuid?.() ?? 0, env: process.env, home: homedir() }),
)
await import(new URL("./agent-main.mjs", import.meta.url).href)
// Written now rather than at exit: the agent runs until it is stopped, which may be a SIGKILL.
flushCompileCache()
