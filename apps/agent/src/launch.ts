/**
 * The agent's entry point (`dist/agent.mjs`). What must be in place before the agent's code is
 * compiled happens here, in a module that is not part of the agent's bundle and imports nothing
 * heavy (whatever it imports is compiled without the cache):
 *
 * 1. The process's start settings (ProcessSettings.ts): glibc reads `MALLOC_ARENA_MAX` and V8 its
 *    flags only when the process starts, so when one is missing the launcher replaces its own
 *    process (`process.execve`: same PID, same stdio, same arguments) with one that has them.
 *    `MALLOC_ARENA_MAX=2`: glibc otherwise gives each thread that allocates (V8's GC and compiler
 *    workers, libuv's pool) an arena of its own, up to 8 per core, whose freed memory stays
 *    resident (2 arenas: 2 MiB less private memory idle, 5 MiB with 20 pods). The V8 options are
 *    NodeOptions.ts's. Values the operator set are kept.
 * 2. Node's compile cache (`CompileCache.ts`), then the agent's bundle (`dist/agent-main.mjs`):
 *    V8 compiles a module when it is imported, before any of its code runs. With
 *    `NODE_COMPILE_CACHE` set, Node has already enabled the cache there and this call changes
 *    nothing. A directory that cannot be made or written only costs the cache: the agent starts
 *    compiling as before (Node says why with NODE_DEBUG_NATIVE=COMPILE_CACHE).
 */
import { enableCompileCache, flushCompileCache } from "node:module"
import { homedir } from "node:os"
import { compileCacheDirectory } from "./CompileCache"
import { wantedStart } from "./ProcessSettings"

const start = wantedStart({ execArgv: process.execArgv, env: process.env })
if (start !== undefined && process.execve !== undefined)
  process.execve(
    process.execPath,
    [process.execPath, ...start.execArgv, ...process.argv.slice(1)],
    start.env,
  )

enableCompileCache(
  compileCacheDirectory({ uid: process.getuid?.() ?? 0, env: process.env, home: homedir() }),
)
await import(new URL("./agent-main.mjs", import.meta.url).href)
// Now rather than at exit: the first start's cache is written even if the agent is SIGKILLed,
// and a later start frees the cache's bytes it read (2.5 MiB, otherwise kept until exit).
flushCompileCache()
