/**
 * The agent's entry point (`dist/agent.mjs`): turns on Node's compile cache, then imports the
 * agent's bundle (`dist/agent-main.mjs`). V8 compiles a module when it is imported, before any of
 * its code runs, so the cache must be enabled by a module that is not part of the bundle. This one
 * imports nothing else of the agent: whatever it imports is compiled without the cache.
 *
 * `NODE_COMPILE_CACHE` set: Node has already enabled the cache there and this call changes
 * nothing. A directory that cannot be made or written only costs the cache: the agent starts
 * compiling as before (Node says why with NODE_DEBUG_NATIVE=COMPILE_CACHE).
 */
import { enableCompileCache, flushCompileCache } from "node:module"
import { homedir } from "node:os"
import { compileCacheDirectory } from "./CompileCache"

enableCompileCache(
  compileCacheDirectory({ uid: process.getuid?.() ?? 0, env: process.env, home: homedir() }),
)
await import(new URL("./agent-main.mjs", import.meta.url).href)
// Written now rather than at exit: the agent runs until it is stopped, which may be a SIGKILL.
flushCompileCache()
