/**
 * `node:http` through `process.getBuiltinModule`, never an ES `import`: an ES import builds the
 * module's namespace from every export, and three of them (`WebSocket`, `MessageEvent`,
 * `CloseEvent`) are lazy getters that load Node's bundled undici, http2 and web streams (about
 * 17 MiB of RSS in a process that never uses them). Import only types from "node:http".
 */
import type * as Http from "node:http"

export const nodeHttp: typeof Http = process.getBuiltinModule("node:http")
