/**
 * `node:http` for the sidecar, loaded through `process.getBuiltinModule` rather than an ES
 * `import`. An ES import of node:http builds the module's namespace from every export, and three
 * of them (`WebSocket`, `MessageEvent`, `CloseEvent`) are lazy getters that load undici, http2
 * and web streams: about 2 MiB of heap in every pod's sidecar, which never uses them. Import only
 * types from "node:http" elsewhere in the sidecar; a unit test checks the bundle loads no undici.
 */
import type * as Http from "node:http"

export const nodeHttp: typeof Http = process.getBuiltinModule("node:http")
